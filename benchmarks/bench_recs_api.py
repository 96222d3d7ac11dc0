"""Serving benchmark of the recommendation endpoints at 100,000 customers and 10,000 products.

Reuses the demo database that ``bench_crm.py`` caches in ``benchmarks/.cache`` (builds it the same way when absent),
trains the recommender on it with ``crm train-recs`` (timed: that is the precomputation), then times each endpoint
twice: in process (one client, sequential requests through the ASGI app: the cost of one request) and over HTTP
(the CRM started as ``make run`` does, uvicorn with two workers, driven by ``wrk`` over loopback with concurrent
clients), with the server's CPU time per request (from /proc, as ``bench_crm.py`` measures it). Every request carries
real service keys and customer tokens. Prints a table and writes ``benchmarks/results/recs_api.json``.

Run: ``crm_backend/.venv/bin/python benchmarks/bench_recs_api.py --help``.
"""

import argparse
import json
import os
import platform
import random
import secrets
import shutil
import subprocess
import sys
import time
from urllib.parse import quote

import numpy as np
from bench_crm import (  # noqa: E402  (also puts the repo on the path)
    CACHE,
    REPO,
    free_port,
    group_cpu_seconds,
    prepare_database,
    run_wrk,
)
from sqlalchemy import create_engine, func, select  # noqa: E402

from app.core.security import issue_customer_token  # noqa: E402
from app.models import Customer, Product  # noqa: E402
from ops.processes import Service, start, stop  # noqa: E402

RESULTS = REPO / "benchmarks/results/recs_api.json"
MODELS = CACHE / "models-recs"
SAMPLED = 5000
TARGET_P99_MS = 20.0
WARM_UP_SECONDS = 8  # each worker loads the model (about 2 s) on its first request


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--connections", type=int, default=4, help="concurrent clients")
    parser.add_argument("--seconds", type=int, default=15, help="measured time per endpoint")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--retrain", action="store_true", help="train again even if a model is cached")
    parser.add_argument("--in-process-requests", type=int, default=1000, help="sequential requests per endpoint")
    return parser.parse_args()


def train(database_url: str, retrain: bool) -> dict[str, object]:
    """Run ``crm train-recs`` (unless a model is cached) and return its card, with the wall time when it ran."""
    pointer = MODELS / "recommendations" / "CURRENT"
    wall = None
    if retrain or not pointer.is_file():
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "app.cli", "--database-url", database_url, "train-recs",
                        "--models-dir", str(MODELS)], check=True, cwd=REPO / "crm_backend")
        wall = round(time.perf_counter() - started, 1)
    card = json.loads((pointer.parent / pointer.read_text().strip() / "card.json").read_text())
    return card | {"train_recs_wall_seconds": wall}


def request_files(database_url: str, secret: str) -> dict[str, list[str]]:
    """``path<TAB>token`` lines for every endpoint, over random customers and products."""
    engine = create_engine(database_url)
    with engine.connect() as connection:
        customers = connection.scalars(select(Customer.id).order_by(func.random()).limit(SAMPLED)).all()
        products = connection.scalars(select(Product.id).order_by(func.random()).limit(SAMPLED)).all()
        names = connection.scalars(select(Product.name).order_by(func.random()).limit(200)).all()
        categories = connection.scalars(select(Product.category).distinct()).all()
    engine.dispose()
    rng = random.Random(0)
    words = [quote(w.strip(","), safe="") for name in names for w in name.split() if len(w.strip(",")) >= 3]
    token = issue_customer_token(secret, customers[0], "bench", 3600)[0]
    return {
        "customer": [f"/api/v1/customers/{c}/recommendations?k=5\t{issue_customer_token(secret, c, 'bench', 3600)[0]}"
                     for c in customers],
        "bought_together": [f"/api/v1/products/{p}/bought-together?k=5\t{token}" for p in products],
        "similar": [f"/api/v1/products/{p}/similar?k=5\t{token}" for p in products],
        "popular": [f"/api/v1/recommendations/popular?k=5&category={quote(c, safe='')}\t{token}"
                    for c in categories] + [f"/api/v1/recommendations/popular?k=5\t{token}"],
        "product_search": [f"/api/v1/products?query={rng.choice(words)}\t{token}" for _ in range(500)],
    }


def time_in_process(database_url: str, keys: dict[str, str], files: dict[str, list[str]],
                    count: int) -> dict[str, dict[str, float]]:
    """p50/p99 of ``count`` sequential requests per endpoint through the app itself (no server, no network)."""
    from fastapi.testclient import TestClient

    from app.core.config import Settings
    from app.main import create_app

    settings = Settings(database_url=database_url, models_dir=MODELS, token_secret=keys["CRM_TOKEN_SECRET"],
                        actions_api_key=keys["CRM_ACTIONS_API_KEY"], agent_api_key=keys["CRM_AGENT_API_KEY"])
    results = {}
    with TestClient(create_app(settings)) as client:
        for name, lines in files.items():
            timings = []
            for line in (lines * (count // len(lines) + 1))[:count + 20]:
                path, token = line.split("\t")
                headers = {"Authorization": f"Bearer {keys['CRM_ACTIONS_API_KEY']}", "X-Customer-Token": token}
                started = time.perf_counter()
                response = client.get(path, headers=headers)
                timings.append(time.perf_counter() - started)
                response.raise_for_status()
            timings = timings[20:]  # the first requests load the model
            results[name] = {"p50_ms": round(float(np.percentile(timings, 50)) * 1e3, 2),
                             "p99_ms": round(float(np.percentile(timings, 99)) * 1e3, 2)}
    return results


def main() -> int:
    args = parse_args()
    if shutil.which("wrk") is None:
        print("bench-recs-api needs wrk, the HTTP load generator: apt-get install wrk", file=sys.stderr)
        return 2
    database_url = prepare_database(args.customers, args.products)
    card = train(database_url, args.retrain)
    print(f"trained: {card['training_rows']:,} order lines, fit {card['details']['fit_seconds']} s, evaluation "
          f"{card['details']['evaluation_seconds']} s; HR@10 {card['metrics']['hr10']} vs popularity "
          f"{card['metrics']['popularity_hr10']}", flush=True)
    keys = {name: secrets.token_urlsafe(32) for name in ("CRM_TOKEN_SECRET", "CRM_ACTIONS_API_KEY", "CRM_AGENT_API_KEY")}
    files = request_files(database_url, keys["CRM_TOKEN_SECRET"])
    in_process = time_in_process(database_url, keys, files, args.in_process_requests)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = keys | {"CRM_DATABASE_URL": database_url, "CRM_MODELS_DIR": str(MODELS)}
    server = start(
        Service("crm", [str(REPO / "crm_backend/.venv/bin/uvicorn"), "app.main:create_app", "--factory", "--port", str(port),
                        "--workers", str(args.workers), "--no-access-log", "--log-level", "warning"],
                f"{base_url}/api/v1/health", env=env, cwd=REPO / "crm_backend"),
        CACHE / "bench-recs-api-server.log",
    )
    results: dict[str, object] = {}
    try:
        for name, lines in files.items():
            requests_file = CACHE / f"recs-{name}.requests"
            requests_file.write_text("\n".join(lines) + "\n")
            warm_up_clients = max(args.connections, 4 * args.workers)  # enough connections to reach every worker
            run_wrk(base_url, requests_file, keys["CRM_ACTIONS_API_KEY"], warm_up_clients, WARM_UP_SECONDS)
            cpu_before = group_cpu_seconds(server.pid)
            row = run_wrk(base_url, requests_file, keys["CRM_ACTIONS_API_KEY"], args.connections, args.seconds)
            row["server_cpu_ms_per_request"] = round(1000 * (group_cpu_seconds(server.pid) - cpu_before) / row["requests"], 3)
            results[name] = row
    finally:
        stop(server)
    print(f"\nrecommendation endpoints under {args.connections} concurrent clients, {args.customers:,} customers, "
          f"{args.products:,} products, {args.workers} workers, {os.cpu_count()} CPUs")
    print(f"{'':<18}{'in process, one client':>24}{'HTTP, ' + str(args.connections) + ' clients':>36}")
    print(f"{'endpoint':<18}{'p50 ms':>12}{'p99 ms':>12}{'req/s':>12}{'p50 ms':>12}{'p99 ms':>12}{'errors':>8}"
          f"{'server CPU ms/req':>19}")
    for name in files:
        one, row = in_process[name], results[name]
        print(f"{name:<18}{one['p50_ms']:>12.2f}{one['p99_ms']:>12.2f}{row['rps']:>12.1f}"  # type: ignore[index]
              f"{row['p50_ms']:>12.2f}{row['p99_ms']:>12.2f}{row['errors']:>8}"  # type: ignore[index]
              f"{row['server_cpu_ms_per_request']:>19.3f}")  # type: ignore[index]
    print(f"target: p99 < {TARGET_P99_MS:.0f} ms")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"http": results, "in_process": in_process} | {
        "training": card, "customers": args.customers, "products": args.products, "connections": args.connections,
        "seconds_per_endpoint": args.seconds, "server_workers": args.workers,
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
    }, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
