"""Chat load benchmark: simulated customers holding multi-turn conversations with the whole assistant at once.

Starts a fresh demo CRM (``crm init``, cached and copied per run), the action server and Rasa with the trained model,
each with generated secrets, the way ``make run`` does. Then:

1. ``--users`` customers at once talk over the authenticated app channel (``POST /webhooks/app/webhook``, a JWT per
   user) for ``--warmup`` + ``--seconds``: conversations that verify with a demo customer's email and postcode and
   then ask for order status, an invoice or the account summary (turns that call the CRM), and conversations of
   questions only. Every reply is checked against the expected one. Messages sent during the warm-up are checked but
   not measured.
2. One customer holds one conversation of ``--long-turns`` turns; reply latency at turn 10 and at the last turn is the
   median of the five turns ending there (the same five kinds of turn, see ``chat_scripts.long_conversation``).

Prints a table and the targets, and writes ``benchmarks/results/chat.json``. Run: ``make bench-chat``, or
``.venv/bin/python benchmarks/bench_chat.py --help`` for the knobs (worker counts, Redis stores, another endpoints
file or a copy of the bot's code to measure a change).
"""

import argparse
import asyncio
import json
import os
import platform
import secrets
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from chat_load import Outcome, Result, crowd, one_conversation  # noqa: E402
from chat_scripts import conversations, demo_identities, long_conversation  # noqa: E402
from chat_stack import RunningStack, StackConfig, crm_template, running_stack  # noqa: E402

RESULTS = REPO / "benchmarks/results/chat.json"
LOGS = REPO / "benchmarks/.cache/chat-logs"
TARGET_RATE = 40.0
TARGET_P95_MS = 1000.0
TARGET_USERS = 32
WINDOW = 5  # turns in each latency window of the long conversation


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=TARGET_USERS, help="simulated customers at once")
    parser.add_argument("--seconds", type=float, default=60, help="measured time")
    parser.add_argument("--warmup", type=float, default=30, help="seconds of load before measuring (not counted)")
    parser.add_argument("--long-turns", type=int, default=300, help="turns of the long conversation (0: skip it)")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--timeout", type=float, default=30, help="seconds a reply may take before the message is lost")
    parser.add_argument("--model", type=Path, default=REPO / "models/current.tar.gz")
    parser.add_argument("--crm-workers", type=int, default=2, help="uvicorn workers of the CRM (make run: 2)")
    parser.add_argument("--action-workers", type=int, default=1, help="ACTION_SERVER_SANIC_WORKERS (make run: 1)")
    parser.add_argument("--rasa-workers", type=int, default=1, help="SANIC_WORKERS of Rasa; above 1 needs --redis")
    parser.add_argument("--redis", metavar="URL", help="Redis tracker and lock store, e.g. redis://127.0.0.1:6379/0")
    parser.add_argument("--endpoints", type=Path, help="Rasa endpoints file (default: endpoints.yml of --code)")
    parser.add_argument("--code", type=Path, default=REPO,
                        help="directory to run the bot's code from (actions/, channels/, ...): a patched copy of the repo")
    args = parser.parse_args()
    if args.long_turns and args.long_turns < 2 * WINDOW:
        parser.error(f"--long-turns needs at least {2 * WINDOW} turns (or 0 to skip the long conversation)")
    if args.rasa_workers > 1 and not args.redis:
        parser.error("--rasa-workers above 1 needs --redis (Rasa refuses several workers with the in-memory lock store)")
    return args


def percentile(values: list[float], share: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[share - 1] if len(values) > 1 else values[0]


def window_median_ms(outcomes: list[Outcome], last_turn: int) -> float:
    """Median reply time of the ``WINDOW`` turns ending at ``last_turn`` (1-based)."""
    window = outcomes[max(0, last_turn - WINDOW):last_turn]
    return round(statistics.median(o.seconds for o in window) * 1000, 1)


@dataclass(frozen=True)
class Measurement:
    warmup: list[Outcome]
    measured: list[Outcome]  # messages sent in the measured time (each awaited, even after it ended)
    elapsed: float  # from the start of the measured time to the last measured reply
    long: list[Outcome]
    cpu_ms: dict[str, float]  # CPU time per measured message, by service


def summarise(run: Measurement, users: int) -> dict[str, float | int | None]:
    if not run.measured:
        raise SystemExit("no message was sent in the measured time: is the assistant answering at all?")
    answered_ms = sorted(o.seconds * 1000 for o in run.measured if o.result is not Result.lost)
    checked = run.measured + run.long
    return {
        "users": users,
        "messages": len(run.measured),
        "messages_per_second": round(len(run.measured) / run.elapsed, 1),
        "p50_ms": round(percentile(answered_ms, 50), 1) if answered_ms else None,
        "p95_ms": round(percentile(answered_ms, 95), 1) if answered_ms else None,
        "p99_ms": round(percentile(answered_ms, 99), 1) if answered_ms else None,
        "errors": sum(o.result is Result.error for o in checked),
        "lost": sum(o.result is Result.lost for o in checked),
        "turn10_ms": window_median_ms(run.long, 10) if len(run.long) >= 10 else None,
        "turn300_ms": window_median_ms(run.long, len(run.long)) if run.long else None,
    }


def failure_reasons(outcomes: list[Outcome]) -> dict[str, int]:
    """How many messages failed in which way (no message texts)."""
    reasons: dict[str, int] = {}
    for outcome in outcomes:
        if outcome.result is not Result.ok:
            key = f"{outcome.result.value}: {outcome.detail}"
            reasons[key] = reasons.get(key, 0) + 1
    return reasons


def process_cpu_seconds(stack: RunningStack) -> dict[str, float]:
    """CPU time used so far by each service (all processes of its session) and by this benchmark process."""
    tick = os.sysconf("SC_CLK_TCK")
    used = dict.fromkeys(stack.sessions, 0.0)
    by_session = {pid: name for name, pid in stack.sessions.items()}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        name = by_session.get(int(fields[3]))  # fields after the name: state ppid pgrp session ...
        if name:
            used[name] += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    times = os.times()
    used["load generator"] = times.user + times.system
    return used


async def measure(args: argparse.Namespace, stack: RunningStack) -> Measurement:
    identities = demo_identities(crm_template() / "crm.sqlite3")
    scripts = [conversations(identities, seed=n) for n in range(args.users)]
    measured_from = time.monotonic() + args.warmup
    cpu_before: dict[str, float] = {}

    async def snapshot_after_warmup() -> None:
        await asyncio.sleep(args.warmup)
        cpu_before.update(process_cpu_seconds(stack))

    snapshot = asyncio.create_task(snapshot_after_warmup())
    load = await crowd(stack, args.users, scripts, args.warmup + args.seconds, args.timeout)
    await snapshot
    cpu_after = process_cpu_seconds(stack)
    measured = [o for o in load if o.sent_at >= measured_from]
    cpu_ms = {name: round((cpu_after[name] - cpu_before[name]) * 1000 / max(len(measured), 1), 1) for name in cpu_after}
    long = []
    if args.long_turns:
        turns = long_conversation(identities[0], args.long_turns)
        long = await one_conversation(stack, f"bench-long-{secrets.token_hex(3)}", turns, args.timeout)
    return Measurement(
        warmup=[o for o in load if o.sent_at < measured_from],
        measured=measured,
        elapsed=max((o.sent_at + o.seconds for o in measured), default=measured_from + 1) - measured_from,
        long=long,
        cpu_ms=cpu_ms,
    )


def report(results: dict, run: Measurement) -> None:
    config = results["config"]
    long_turns = config["long_turns"]
    print(f"\nChat load: {results['users']} customers at once for {config['seconds']:.0f} s "
          f"after {config['warmup_seconds']:.0f} s of warm-up ({config['crm_calling_share']:.0%} of the messages call the CRM)"
          + (f"; one conversation of {long_turns} turns" if long_turns else ""))
    header = f"{'messages':>9}{'msg/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'errors':>8}{'lost':>6}"
    row = (f"{results['messages']:>9}{results['messages_per_second']:>9.1f}{results['p50_ms'] or 0:>9.1f}"
           f"{results['p95_ms'] or 0:>9.1f}{results['p99_ms'] or 0:>9.1f}{results['errors']:>8}{results['lost']:>6}")
    if long_turns:
        header += f"{'turn 10 ms':>12}{f'turn {long_turns} ms':>13}"
        row += f"{results['turn10_ms']:>12.1f}{results['turn300_ms']:>13.1f}"
    print(header)
    print(row)
    for label, crm in (("CRM-calling turns", True), ("other turns", False)):
        kind_ms = sorted(o.seconds * 1000 for o in run.measured if o.crm is crm and o.result is not Result.lost)
        if kind_ms:
            print(f"{label}: {len(kind_ms)} messages, p50 {percentile(kind_ms, 50):.0f} ms, p95 {percentile(kind_ms, 95):.0f} ms")
    print("CPU ms per measured message: " + ", ".join(f"{name} {ms}" for name, ms in run.cpu_ms.items()))
    parts = (("measured and long conversation", run.measured + run.long), ("warm-up (not counted)", run.warmup))
    for part, outcomes in parts:
        for reason, count in failure_reasons(outcomes).items():
            print(f"  {part}: {count} x {reason}")
    checks = [
        (f">= {TARGET_RATE:.0f} messages/s with CRM-calling turns", results["messages_per_second"] >= TARGET_RATE),
        (f"p95 < {TARGET_P95_MS:.0f} ms at {TARGET_USERS} customers"
         + ("" if results["users"] == TARGET_USERS else f" (this run: {results['users']})"),
         results["p95_ms"] is not None and results["p95_ms"] < TARGET_P95_MS),
        ("nothing lost, every message got exactly its replies", results["lost"] == 0 and results["errors"] == 0),
    ]
    if long_turns:
        checks.append((f"turn {long_turns} no slower than twice turn 10", results["turn300_ms"] <= 2 * results["turn10_ms"]))
    print("targets:")
    for name, met in checks:
        print(f"  {'met   ' if met else 'MISSED'}  {name}")
    print("anchors (Rasa 3.6, one core): ~50 msg/s with an in-memory tracker, ~24 msg/s when each turn calls a custom "
          "action, p50 20-40 ms for one client; one long conversation: 27 ms at turn 10, 194 ms at turn 300")


def shown(path: Path) -> str:
    """A path as the results file shows it: relative to the repository when inside it."""
    resolved = path.resolve()
    return str(resolved.relative_to(REPO)) if resolved.is_relative_to(REPO) else str(resolved)


def main() -> int:
    args = parse_args()
    if not args.model.exists():
        print(f"no trained model at {args.model}: run `make train`", file=sys.stderr)
        return 2
    config = StackConfig(model=args.model.resolve(), crm_workers=args.crm_workers, action_workers=args.action_workers,
                         rasa_workers=args.rasa_workers, redis_url=args.redis,
                         endpoints=args.endpoints.resolve() if args.endpoints else None, code=args.code.resolve())
    load_before = os.getloadavg()
    with running_stack(config, LOGS) as stack:
        run = asyncio.run(measure(args, stack))
    results: dict = summarise(run, args.users)
    results |= {
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_average_before": [round(x, 2) for x in load_before],
                    "load_average_after": [round(x, 2) for x in os.getloadavg()]},
        "config": {"seconds": args.seconds, "warmup_seconds": args.warmup, "long_turns": args.long_turns,
                   "latency_window_turns": WINDOW, "crm_workers": args.crm_workers, "action_workers": args.action_workers,
                   "rasa_workers": args.rasa_workers, "tracker_store": "redis" if args.redis else "in_memory",
                   "endpoints": shown(args.endpoints or args.code / "endpoints.yml"), "code": shown(args.code),
                   "model": shown(args.model),
                   "crm_calling_share": round(sum(o.crm for o in run.measured) / max(len(run.measured), 1), 3)},
    }
    report(results, run)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
