"""Start the whole system on embedded defaults, print where to open it, stop it all on Ctrl-C.

Run by ``make run`` after the environments exist, the model is trained and the CRM database
is migrated and seeded. Ports and URLs can be changed through the environment.

Rasa runs through ``rasa_server`` (our speed-ups and long-session handling). Its HTTP API is on, for the CRM only:
it signs its calls (agent messages, handbacks) with ``RASA_JWT_SECRET`` (docs/handoff.md), which Rasa reads from its
environment, never its command line; the model routes answer only this machine (channels/api_guard.py).
"""

import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import jwt

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ops.processes import Service, ServiceFailed, rasa_command, start, stop  # noqa: E402
from ops.dev_secrets import ensure_secrets  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
VAR = REPO / "var"
CRM_PORT = int(os.environ.get("CRM_PORT", "8000"))
ACTIONS_PORT = int(os.environ.get("ACTIONS_PORT", "5055"))
RASA_PORT = int(os.environ.get("RASA_PORT", "5005"))
DEMO_AGENTS = ("alice", "ben")


def required(secrets: dict[str, str], name: str) -> str:
    """A secret the system cannot start without; a clear error names it and where it comes from."""
    value = secrets.get(name) or os.environ.get(name)
    if not value:
        raise ServiceFailed(f"{name} is not set: add it to var/secrets.env or the environment (ops/dev_secrets.py generates it)")
    return value


def services(secrets: dict[str, str]) -> list[Service]:
    crm_url = f"http://127.0.0.1:{CRM_PORT}"
    rasa_url = f"http://127.0.0.1:{RASA_PORT}"
    rasa_jwt_secret = required(secrets, "RASA_JWT_SECRET")
    shared = {**secrets, "PYTHONPATH": str(REPO), "RASA_TELEMETRY_ENABLED": "false"}
    return [
        Service(
            name="crm",
            command=[str(REPO / "crm_backend/.venv/bin/uvicorn"), "app.main:create_app", "--factory",
                     "--host", "127.0.0.1", "--port", str(CRM_PORT), "--workers", "2", "--no-access-log"],
            health_url=f"{crm_url}/api/v1/health",
            env=shared | {"CRM_RASA_URL": rasa_url, "CRM_RASA_JWT_SECRET": rasa_jwt_secret, "CRM_CHAT_SERVER_URL": rasa_url},
            cwd=REPO / "crm_backend",
        ),
        Service(
            name="actions",
            command=[str(REPO / ".venv/bin/rasa"), "run", "actions", "--port", str(ACTIONS_PORT), "--actions", "actions"],
            health_url=f"http://127.0.0.1:{ACTIONS_PORT}/health",
            env=shared | {"CRM_URL": crm_url, "SANIC_HOST": "127.0.0.1"},
            cwd=REPO,
        ),
        Service(
            name="rasa",
            command=rasa_command(REPO / ".venv/bin/python", REPO / "models/current.tar.gz", RASA_PORT, "endpoints.yml",
                                 cors=[crm_url, f"http://localhost:{CRM_PORT}"]),  # the shop's widget is served by the CRM
            health_url=f"{rasa_url}/",
            env=shared | {"ACTION_SERVER_URL": f"http://127.0.0.1:{ACTIONS_PORT}/webhook", "CRM_URL": crm_url,
                          "RASA_JWT_SECRET": rasa_jwt_secret},
            cwd=REPO,
            startup_timeout=300,
        ),
    ]


def prepare_crm(secrets: dict[str, str]) -> None:
    """``crm init`` with the secrets: the database, demo data and models on first start, and the demo agents."""
    done = subprocess.run([str(REPO / "crm_backend/.venv/bin/python"), "-m", "app.cli", "init"],
                          cwd=REPO / "crm_backend", env={**os.environ, **secrets}, check=False)
    if done.returncode != 0:
        raise ServiceFailed(f"crm init failed with code {done.returncode} (see above)")


def demo_app_token(secrets: dict[str, str]) -> str:
    """A day-long token for the demo app user, signed as a shop's app backend would sign its users."""
    claims = {"sub": "demo-user", "exp": datetime.now(timezone.utc) + timedelta(days=1)}
    return jwt.encode(claims, secrets["APP_CHANNEL_SECRET"], algorithm="HS256")


def _interrupt(_signum: int, _frame: object) -> None:
    """Ctrl-C and SIGTERM both stop the children."""
    raise KeyboardInterrupt


def main() -> int:
    secrets = ensure_secrets(VAR / "secrets.env")
    running = []
    for signum in (signal.SIGINT, signal.SIGTERM):  # SIGINT too: a background start may have ignored it
        signal.signal(signum, _interrupt)
    try:
        prepare_crm(secrets)
        for service in services(secrets):
            print(f"starting {service.name} ...", flush=True)
            running.append((service, start(service, VAR / "logs" / f"{service.name}.log")))
        print(
            "\nThe shop assistant is running:\n"
            f"  chat as an app   export TOKEN={demo_app_token(secrets)}\n"
            f"                   curl -H \"Authorization: Bearer $TOKEN\" -d '{{\"message\": \"hi\"}}' "
            f"http://127.0.0.1:{RASA_PORT}/webhooks/app/webhook\n"
            f"  demo shop + chat http://127.0.0.1:{CRM_PORT}/shop/\n"
            f"  agent console    http://127.0.0.1:{CRM_PORT}/console/  (agents {' / '.join(DEMO_AGENTS)}, password: "
            f"CRM_DEMO_AGENT_PASSWORD in var/secrets.env)\n"
            f"  CRM API docs     http://127.0.0.1:{CRM_PORT}/api/v1/docs  (service keys in var/secrets.env)\n"
            f"  one-time codes   {VAR / 'outbox'}\n"
            f"  logs             {VAR / 'logs'}\n"
            "Press Ctrl-C to stop everything.",
            flush=True,
        )
        while all(process.poll() is None for _, process in running):
            time.sleep(1)
        dead = [service.name for service, process in running if process.poll() is not None]
        print(f"\n{', '.join(dead)} stopped unexpectedly; see {VAR / 'logs'}. Stopping the rest.", flush=True)
        return 1
    except ServiceFailed as failure:
        print(f"\n{failure}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        print("\nstopping ...", flush=True)
        return 0
    finally:
        for _, process in reversed(running):
            stop(process)


if __name__ == "__main__":
    sys.exit(main())
