"""``crm``: the CRM's command line (database migrations and data loading)."""

import argparse
import os
import sys
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

from app.core.config import DEFAULT_DATABASE_URL
from app.core.db import make_engine, make_session_factory

ALEMBIC_INI = Path(__file__).resolve().parents[1] / "alembic.ini"
DEMO_CUSTOMERS = 3000
DEMO_PRODUCTS = 300


def migrate(database_url: str) -> None:
    config = Config(str(ALEMBIC_INI))
    config.set_main_option("sqlalchemy.url", database_url)
    command.upgrade(config, "head")


def seed_demo(engine: Engine, customers: int, products: int) -> None:
    from app.data.demo import seed_demo_data

    print(seed_demo_data(engine, customers=customers, products=products).format())


def import_retail(engine: Engine, path: Path) -> None:
    from app.data.online_retail import import_online_retail

    with make_session_factory(engine)() as session:
        print(import_online_retail(session, path).format())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="crm", description=__doc__)
    parser.add_argument("--database-url", default=None, help="defaults to CRM_DATABASE_URL, else the embedded SQLite file")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="bring the database schema up to date")
    for name, help_text in (("seed-demo", "load the demo shop (does nothing if it is there)"),
                            ("init", "migrate, then seed the demo shop if it is not there (what make run does)")):
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument("--customers", type=int, default=DEMO_CUSTOMERS)
        sub.add_argument("--products", type=int, default=DEMO_PRODUCTS)
    retail = commands.add_parser("import-retail", help="import a transaction file in the UCI Online Retail layout")
    retail.add_argument("path", type=Path)
    return parser


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
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
