"""``crm``: the CRM's command line (database migrations, data loading, models and agent accounts)."""

import argparse
import getpass
import os
import sys
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

from app.core.config import DEFAULT_DATABASE_URL, VAR_DIR, Settings
from app.core.db import make_engine, make_session_factory

ALEMBIC_INI = Path(__file__).resolve().parents[1] / "alembic.ini"
DEMO_CUSTOMERS = 3000
DEMO_PRODUCTS = 300
DEFAULT_MODELS_DIR = Settings.model_fields["models_dir"].default
DEFAULT_REPORT = VAR_DIR / "reports" / "crm-report.html"
NEW_AGENT_PASSWORD_ENV = "CRM_NEW_AGENT_PASSWORD"
DEMO_AGENT_PASSWORD_ENV = "CRM_DEMO_AGENT_PASSWORD"


def migrate(database_url: str) -> None:
    config = Config(str(ALEMBIC_INI))
    config.set_main_option("sqlalchemy.url", database_url)
    command.upgrade(config, "head")


def seed_demo(engine: Engine, customers: int, products: int) -> None:
    from app.data.demo import seed_demo_data

    print(seed_demo_data(engine, customers=customers, products=products).format())


def seed_support(engine: Engine) -> None:
    """Canned replies, and the demo agents when ``CRM_DEMO_AGENT_PASSWORD`` is set."""
    from app.data.support_seed import ensure_demo_agents, seed_canned_replies

    with make_session_factory(engine)() as session:
        added = seed_canned_replies(session)
        if added:
            print(f"{added} canned replies added")
        password = os.environ.get(DEMO_AGENT_PASSWORD_ENV)
        if password:
            try:
                names = ensure_demo_agents(session, password)
            except ValueError as error:
                raise SystemExit(f"{DEMO_AGENT_PASSWORD_ENV}: {error}") from error
            print(f"demo agents for the console: {', '.join(names)} (password: {DEMO_AGENT_PASSWORD_ENV})")


def new_agent_password() -> str:
    """From ``CRM_NEW_AGENT_PASSWORD``, else asked for twice without echo; never a command-line argument."""
    password = os.environ.get(NEW_AGENT_PASSWORD_ENV)
    if password:
        return password
    if not sys.stdin.isatty():
        raise SystemExit(f"set {NEW_AGENT_PASSWORD_ENV} or run this in a terminal to type the password")
    password = getpass.getpass("password for the new agent: ")
    if getpass.getpass("the same password again: ") != password:
        raise SystemExit("the two passwords differ; nothing was created")
    return password


def create_agent_command(engine: Engine, username: str, display_name: str) -> None:
    from app.services.agents import AgentExists, create_agent

    password = new_agent_password()
    with make_session_factory(engine)() as session:
        try:
            agent = create_agent(session, username=username, display_name=display_name, password=password)
        except AgentExists as error:
            raise SystemExit(f"an agent with the user name {username!r} already exists") from error
        except ValueError as error:
            raise SystemExit(str(error)) from error
    print(f"agent {agent.username} ({agent.display_name}) created")


def import_retail(engine: Engine, path: Path) -> None:
    from app.data.online_retail import import_online_retail

    with make_session_factory(engine)() as session:
        print(import_online_retail(session, path).format())


def export_patterns(engine: Engine, path: Path) -> None:
    from app.data.catalog_patterns import export_catalog_patterns

    with make_session_factory(engine)() as session:
        print(f"{export_catalog_patterns(session, path):,} catalogue patterns written to {path}")


def train_segments(engine: Engine, models_dir: Path) -> None:
    from app.ml.customer_scores import train_scoring_models

    with make_session_factory(engine)() as session:
        for card in train_scoring_models(session, models_dir):
            metrics = ", ".join(f"{name}={value:g}" for name, value in card.metrics.items())
            print(f"{card.name} {card.version} ({card.training_rows:,} rows): {metrics}")


def train_recs(engine: Engine, models_dir: Path) -> None:
    from app.ml.recs_training import train

    with make_session_factory(engine)() as session:
        card = train(session, models_dir)
    print(f"{card.name} {card.version} ({card.training_rows:,} order lines, fitted in {card.details['fit_seconds']} s): "
          f"HR@10 {card.metrics['hr10']:.3f} vs popularity {card.metrics['popularity_hr10']:.3f} "
          f"on {card.metrics['eval_customers']:,} held-out last orders")


def train_missing_models(engine: Engine, models_dir: Path) -> None:
    """What ``init`` does after seeding: train each model that has no version yet, so no endpoint answers 503."""
    from app.ml.churn_training import MODEL_NAME as CHURN_MODEL
    from app.ml.churn_training import train_churn_command
    from app.ml.customer_scores import SEGMENTS_MODEL, VALUE_MODEL
    from app.ml.recs_training import MODEL_NAME as RECS_MODEL
    from app.ml.store import has_model

    missing = [(names[0], trainer) for names, trainer in (((SEGMENTS_MODEL, VALUE_MODEL), train_segments),
                                                           ((CHURN_MODEL,), train_churn_command),
                                                           ((RECS_MODEL,), train_recs))
               if not all(has_model(models_dir, name) for name in names)]
    for name, trainer in missing:
        try:
            trainer(engine, models_dir)
        except ValueError as too_little:  # a shop with too little history yet: init still succeeds
            print(f"{name} model not trained: {too_little} (its endpoints answer 503 until it is)")
        except SystemExit as too_little:  # train-churn's own message already names the model
            print(f"{too_little} (its endpoints answer 503 until it is)")


def write_report(engine: Engine, models_dir: Path, out: Path) -> None:
    from app.ml.store import ModelUnavailable
    from app.reports.manager import build_report

    with make_session_factory(engine)() as session:
        try:
            page = build_report(session, models_dir)
        except ModelUnavailable as error:
            raise SystemExit(f"cannot build the report: {error} (run crm train-segments first)") from error
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    print(f"report written to {out} ({len(page) / 1024:,.0f} KiB)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="crm", description=__doc__)
    parser.add_argument("--database-url", default=None, help="defaults to CRM_DATABASE_URL, else the embedded SQLite file")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="bring the database schema up to date")
    for name, help_text in (("seed-demo", "load the demo shop (does nothing if it is there)"),
                            ("init", "migrate, seed the demo shop if it is not there, train the models that are missing "
                                     "(what make run does)")):
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument("--customers", type=int, default=DEMO_CUSTOMERS)
        sub.add_argument("--products", type=int, default=DEMO_PRODUCTS)
        if name == "init":
            sub.add_argument("--models-dir", type=Path, default=None, help="defaults to CRM_MODELS_DIR, else var/models")
    retail = commands.add_parser("import-retail", help="import a transaction file in the UCI Online Retail layout")
    retail.add_argument("path", type=Path)
    patterns = commands.add_parser("export-catalog-patterns",
                                   help="write the product and category names as the bot's entity patterns (JSONL)")
    patterns.add_argument("path", type=Path, help="the bot reads data/catalog/catalog_patterns.jsonl")
    train = commands.add_parser("train-segments", help="fit the RFM segments and the customer value model on the database")
    churn = commands.add_parser("train-churn", help="retrain the churn-risk model on the database, print held-out metrics")
    recs = commands.add_parser("train-recs", help="fit the product recommender on the database, print held-out HR@10")
    agent = commands.add_parser("create-agent", help="add a support agent who signs into the console "
                                                     f"(password from {NEW_AGENT_PASSWORD_ENV}, else asked for)")
    agent.add_argument("--username", required=True, help="2-40 letters, digits, dots, dashes or underscores")
    agent.add_argument("--display-name", required=True, help="shown to customers, e.g. 'Alice'")
    report = commands.add_parser("report", help="write the manager report: one self-contained HTML page")
    report.add_argument("--out", type=Path, default=DEFAULT_REPORT)
    for sub in (train, churn, recs, report):
        sub.add_argument("--models-dir", type=Path, default=None, help="defaults to CRM_MODELS_DIR, else var/models")
    return parser


def models_dir_from(args: argparse.Namespace) -> Path:
    return args.models_dir or Path(os.environ.get("CRM_MODELS_DIR", DEFAULT_MODELS_DIR))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    database_url = args.database_url or os.environ.get("CRM_DATABASE_URL", DEFAULT_DATABASE_URL)
    if database_url.startswith("sqlite:///"):
        Path(database_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    if args.command in ("migrate", "init"):
        migrate(database_url)
    if args.command in ("seed-demo", "init", "import-retail"):
        engine = make_engine(database_url)
        if args.command == "import-retail":
            import_retail(engine, args.path)
        else:
            seed_demo(engine, args.customers, args.products)
        if args.command == "init":
            seed_support(engine)
            train_missing_models(engine, models_dir_from(args))
        engine.dispose()
    if args.command in ("train-segments", "train-churn", "train-recs", "report"):
        engine = make_engine(database_url)
        models_dir = models_dir_from(args)
        if args.command == "train-segments":
            train_segments(engine, models_dir)
        elif args.command == "train-churn":
            from app.ml.churn_training import train_churn_command

            train_churn_command(engine, models_dir)
        elif args.command == "train-recs":
            train_recs(engine, models_dir)
        else:
            write_report(engine, models_dir, args.out)
        engine.dispose()
    if args.command in ("export-catalog-patterns", "create-agent"):
        engine = make_engine(database_url)
        if args.command == "create-agent":
            create_agent_command(engine, args.username, args.display_name)
        else:
            export_patterns(engine, args.path)
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
