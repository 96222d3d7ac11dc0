"""The whole assistant for the chat benchmark: a fresh demo CRM, the action server and Rasa, with generated secrets.

The CRM's demo shop (``crm init``: migrated, seeded, models trained) is built once into ``benchmarks/.cache/chat-crm``
and copied for every run, so each run starts on the same fresh data. Services start the way ``ops/supervisor.py``
starts them; the worker counts and the tracker/lock store are the knobs the benchmark measures.
"""

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import jwt
import redis

from ops.dev_secrets import SECRET_NAMES
from ops.processes import READY_DIR_VARIABLE, Service, rasa_command, start, stop, wait_for_workers

REPO = Path(__file__).resolve().parents[1]
CRM_PYTHON = REPO / "crm_backend/.venv/bin/python"
RASA = REPO / ".venv/bin/rasa"
BOT_PYTHON = REPO / ".venv/bin/python"
TEMPLATE = REPO / "benchmarks/.cache/chat-crm"


@dataclass(frozen=True)
class StackConfig:
    model: Path
    crm_workers: int = 2
    action_workers: int = 1
    rasa_workers: int = 1
    redis_url: str | None = None  # "redis://host:port/db": Redis tracker and lock store (needed for rasa_workers > 1)
    endpoints: Path | None = None  # another endpoints file, to measure a change to it; default: code/endpoints.yml
    code: Path = REPO  # where the bot's code and configuration run from: a patched copy measures a change to them


@dataclass(frozen=True)
class RunningStack:
    rasa_url: str
    app_secret: str
    sessions: dict[str, int]  # service name: process id of its session leader (workers are in the same session)

    def token(self, user_id: str, lifetime: timedelta = timedelta(hours=2)) -> str:
        """What a shop's app backend does: sign its user into a JWT for the app channel."""
        claims = {"sub": user_id, "exp": datetime.now(timezone.utc) + lifetime}
        return jwt.encode(claims, self.app_secret, algorithm="HS256")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def crm_env(workdir: Path) -> dict[str, str]:
    """The CRM's database, models and outbox, all in ``workdir``."""
    return {"CRM_DATABASE_URL": f"sqlite:///{workdir / 'crm.sqlite3'}", "CRM_MODELS_DIR": str(workdir / "models"),
            "CRM_OUTBOX_DIR": str(workdir / "outbox")}


def crm_init(workdir: Path, keys: dict[str, str]) -> None:
    """``crm init`` in ``workdir`` (as ``make run`` does it): migrate, seed the demo shop, train what is missing."""
    subprocess.run([str(CRM_PYTHON), "-m", "app.cli", "init"], cwd=REPO / "crm_backend", check=True, capture_output=True,
                   env={**os.environ, **keys, **crm_env(workdir)})


def crm_template() -> Path:
    """The demo CRM (database and trained models) as ``crm init`` leaves it, built once."""
    if not (TEMPLATE / "crm.sqlite3").exists():
        partial = TEMPLATE.with_suffix(".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        print(f"building the demo CRM with `crm init` (once; cached in {TEMPLATE}) ...", flush=True)
        crm_init(partial, {name: secrets.token_urlsafe(32) for name in SECRET_NAMES})
        shutil.rmtree(TEMPLATE, ignore_errors=True)
        partial.rename(TEMPLATE)
    return TEMPLATE


def delete_redis_keys(redis_url: str, prefix: str) -> None:
    """Remove what the run left in Redis (only keys under the run's own prefix)."""
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    if keys:
        client.delete(*keys)


def services(config: StackConfig, keys: dict[str, str], crm_dir: Path, endpoints: Path,
             scaling_env: dict[str, str], ready_dir: Path) -> tuple[list[Service], str]:
    """CRM, action server and Rasa on free ports, as ``ops/supervisor.py`` starts them (Rasa's HTTP API on for the
    CRM); and Rasa's address."""
    crm_port, actions_port, rasa_port = free_port(), free_port(), free_port()
    crm_url, rasa_url = f"http://127.0.0.1:{crm_port}", f"http://127.0.0.1:{rasa_port}"
    shared = {**keys, "PYTHONPATH": str(config.code), "RASA_TELEMETRY_ENABLED": "false"}
    rasa_api = {"CRM_RASA_URL": rasa_url, "CRM_RASA_JWT_SECRET": keys["RASA_JWT_SECRET"], "CRM_CHAT_SERVER_URL": rasa_url}
    return [
        Service("crm", [str(REPO / "crm_backend/.venv/bin/uvicorn"), "app.main:create_app", "--factory", "--host",
                        "127.0.0.1", "--port", str(crm_port), "--workers", str(config.crm_workers), "--no-access-log",
                        "--log-level", "warning"],
                f"{crm_url}/api/v1/health", cwd=REPO / "crm_backend", env=shared | crm_env(crm_dir) | rasa_api),
        Service("actions", [str(RASA), "run", "actions", "--port", str(actions_port), "--actions", "actions"],
                f"http://127.0.0.1:{actions_port}/health", cwd=config.code,
                env=shared | {"CRM_URL": crm_url, "SANIC_HOST": "127.0.0.1",
                              "ACTION_SERVER_SANIC_WORKERS": str(config.action_workers)}),
        Service("rasa", rasa_command(BOT_PYTHON, config.model, rasa_port, endpoints, cors=[crm_url]),
                f"{rasa_url}/", cwd=config.code, startup_timeout=300,
                env=shared | {"ACTION_SERVER_URL": f"http://127.0.0.1:{actions_port}/webhook", "CRM_URL": crm_url,
                              "RASA_WORKERS": str(config.rasa_workers), READY_DIR_VARIABLE: str(ready_dir)}
                | scaling_env),
    ], rasa_url


@contextmanager
def running_stack(config: StackConfig, logs: Path) -> Iterator[RunningStack]:
    """A fresh copy of the demo CRM and the three services with generated secrets; all stopped on exit."""
    keys = {name: secrets.token_urlsafe(32) for name in SECRET_NAMES}
    logs.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-chat-") as tmp, ExitStack() as stack:
        workdir = Path(tmp)
        shutil.copytree(crm_template(), workdir / "crm")
        crm_init(workdir / "crm", keys)  # on the copy this only migrates (and trains a model the CRM may have gained since)
        endpoints = config.endpoints or config.code / "endpoints.yml"
        scaling_env = {}
        if config.redis_url:  # rasa_server adds the Redis stores to the endpoints (rasa_server/scaling.py)
            prefix = f"benchchat{secrets.token_hex(4)}"
            scaling_env = {"RASA_REDIS_URL": config.redis_url, "RASA_REDIS_KEY_PREFIX": prefix}
            stack.callback(delete_redis_keys, config.redis_url, prefix)
        sessions = {}
        ready_dir = workdir / "rasa-ready"
        ready_dir.mkdir()
        to_start, rasa_url = services(config, keys, workdir / "crm", endpoints, scaling_env, ready_dir)
        for service in to_start:
            log = logs / f"{service.name}.log"
            log.unlink(missing_ok=True)
            process = start(service, log)
            stack.callback(stop, process)
            sessions[service.name] = process.pid
            if service.name == "rasa":  # healthy once one worker is: measure only with all of them serving
                wait_for_workers(process, ready_dir, config.rasa_workers)
        yield RunningStack(rasa_url, keys["APP_CHANNEL_SECRET"], sessions)
