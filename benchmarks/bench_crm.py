"""Load benchmark of the CRM API: account summary and order status under concurrent clients.

Loads 100,000 customers and about 1,000,000 order lines with the demo-data generator into a SQLite file (kept in
``benchmarks/.cache`` and reused while it matches the requested size), starts the CRM the way ``make run`` does
(uvicorn, several workers), and drives each endpoint with ``wrk`` (Debian package ``wrk``) for a fixed time, every
request with a real service key and a real customer token. Beside wrk's throughput and latency it reports the server's
CPU time per request (its processes' user + system time over the run, from /proc), which depends less than the wall
numbers on what else the shared machine is doing. Prints a table and writes ``benchmarks/results/crm.json``.

Run: ``make bench-crm``, or ``crm_backend/.venv/bin/python benchmarks/bench_crm.py --help``.
"""

import argparse
import json
import os
import platform
import secrets
import shutil
import socket
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sqlalchemy import create_engine, func, select  # noqa: E402

from app.core.db import make_engine, make_session_factory  # noqa: E402
from app.core.security import issue_customer_token  # noqa: E402
from app.data.demo import seed_demo_data  # noqa: E402
from app.models import Customer, Order, OrderLine  # noqa: E402
from ops.processes import Service, start, stop  # noqa: E402

CACHE = REPO / "benchmarks/.cache"
RESULTS = REPO / "benchmarks/results/crm.json"
SAMPLED_CUSTOMERS = 5000


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--connections", type=int, default=16, help="concurrent clients")
    parser.add_argument("--seconds", type=int, default=20, help="measured time per endpoint")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    return parser.parse_args()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prepare_database(customers: int, products: int) -> str:
    """A migrated SQLite file with the demo data at the requested size, built once and reused."""
    path = CACHE / f"crm-{customers}-{products}.sqlite3"
    url = f"sqlite:///{path}"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        partial_url = f"sqlite:///{partial}"
        subprocess.run([sys.executable, "-m", "app.cli", "--database-url", partial_url, "migrate"], check=True)
        engine = make_engine(partial_url)
        print(f"generating {customers:,} customers and {products:,} products (once; cached in {CACHE}) ...", flush=True)
        print(seed_demo_data(engine, customers=customers, products=products).format(), flush=True)
        engine.dispose()
        partial.rename(path)
    return url


def sample_requests(url: str, secret: str) -> tuple[list[str], list[str], int]:
    """Paths with tokens for the summary and order-status endpoints, and the number of order lines."""
    engine = create_engine(url)
    with make_session_factory(engine)() as session:
        line_count = session.scalar(select(func.count(OrderLine.id))) or 0
        rows = session.execute(
            select(Order.customer_id, func.max(Order.order_number))
            .join(Customer, Customer.id == Order.customer_id)
            .group_by(Order.customer_id)
            .order_by(func.random())
            .limit(SAMPLED_CUSTOMERS)
        ).all()
    engine.dispose()
    summary, status = [], []
    for customer_id, order_number in rows:
        token = issue_customer_token(secret, customer_id, "bench", 3600)[0]
        summary.append(f"/api/v1/customers/{customer_id}/summary\t{token}")
        status.append(f"/api/v1/customers/{customer_id}/orders/{order_number}\t{token}")
    return summary, status, line_count


def group_cpu_seconds(group_id: int) -> float:
    """CPU time (user + system) used so far by the living processes of a process group: the server's master and workers."""
    total_ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended while we looked
            continue
        if int(fields[2]) == group_id:  # fields after the command: state, ppid, pgrp, ..., utime (12th), stime (13th)
            total_ticks += int(fields[11]) + int(fields[12])
    return total_ticks / os.sysconf("SC_CLK_TCK")


def run_wrk(base_url: str, requests_file: Path, service_key: str, connections: int, seconds: int) -> dict[str, float]:
    env = {**os.environ, "WRK_REQUESTS": str(requests_file), "WRK_SERVICE_KEY": service_key}
    command = ["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--timeout", "5s",
               "-s", str(REPO / "benchmarks/wrk_requests.lua"), base_url]
    output = subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout
    result = json.loads(output.strip().splitlines()[-1])
    return {
        "requests": result["requests"],
        "rps": round(result["requests"] / result["seconds"], 1),
        "p50_ms": round(result["p50_ms"], 2),
        "p99_ms": round(result["p99_ms"], 2),
        "errors": result["errors"] + result["non2xx"],
    }


def main() -> int:
    args = parse_args()
    if shutil.which("wrk") is None:
        print("bench-crm needs wrk, the HTTP load generator: apt-get install wrk", file=sys.stderr)
        return 2
    database_url = prepare_database(args.customers, args.products)
    keys = {name: secrets.token_urlsafe(32) for name in ("CRM_TOKEN_SECRET", "CRM_ACTIONS_API_KEY", "CRM_AGENT_API_KEY")}
    summary, status, line_count = sample_requests(database_url, keys["CRM_TOKEN_SECRET"])
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    server = start(
        Service("crm", [str(REPO / "crm_backend/.venv/bin/uvicorn"), "app.main:create_app", "--factory", "--port", str(port),
                        "--workers", str(args.workers), "--no-access-log", "--log-level", "warning"],
                f"{base_url}/api/v1/health", env=keys | {"CRM_DATABASE_URL": database_url}, cwd=REPO / "crm_backend"),
        CACHE / "bench-crm-server.log",
    )
    results: dict[str, object] = {}
    try:
        for name, lines in (("account_summary", summary), ("order_status", status)):
            requests_file = CACHE / f"{name}.requests"
            requests_file.write_text("\n".join(lines) + "\n")
            run_wrk(base_url, requests_file, keys["CRM_ACTIONS_API_KEY"], args.connections, 3)  # warm-up
            cpu_before = group_cpu_seconds(server.pid)
            row = run_wrk(base_url, requests_file, keys["CRM_ACTIONS_API_KEY"], args.connections, args.seconds)
            cpu_seconds = group_cpu_seconds(server.pid) - cpu_before
            row["server_cpu_ms_per_request"] = round(1000 * cpu_seconds / row["requests"], 3)
            results[name] = row
    finally:
        stop(server)
    results |= {
        "customers": args.customers,
        "order_lines": line_count,
        "connections": args.connections,
        "seconds_per_endpoint": args.seconds,
        "server_workers": args.workers,
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
    }
    print(f"\nCRM API under {args.connections} concurrent clients, {args.customers:,} customers, {line_count:,} order lines")
    print(f"{'endpoint':<18}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}{'server CPU ms/req':>19}")
    for name in ("account_summary", "order_status"):
        row = results[name]
        print(f"{name:<18}{row['rps']:>10.1f}{row['p50_ms']:>10.2f}{row['p99_ms']:>10.2f}{row['errors']:>8}"  # type: ignore[index]
              f"{row['server_cpu_ms_per_request']:>19.3f}")  # type: ignore[index]
    print("target: >= 1000 req/s with p99 < 50 ms for both (anchor: ~1,400 req/s for a primary-key lookup on one core)")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
