"""Start a service as a child process and wait until its health check answers.

Standard library only, so both the supervisor and the test fixtures (in either
Python environment) can use it.
"""

import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path


READY_DIR_VARIABLE = "RASA_READY_DIR"  # where each Rasa worker notes that it is serving (rasa_server/readiness.py)


class ServiceFailed(RuntimeError):
    """The service exited or did not become healthy in time; the message says which, and where its log is."""


@dataclass
class Service:
    name: str
    command: list[str]
    health_url: str
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    startup_timeout: float = 120.0


def rasa_command(python: Path, model: Path, port: int, endpoints: Path | str, cors: list[str]) -> list[str]:
    """How every part of the system starts Rasa: through ``rasa_server`` (its secret from ``RASA_JWT_SECRET``), on
    this machine's loopback, with its HTTP API on for the CRM and the channels of ``credentials.yml``."""
    return [str(python), "-m", "rasa_server", "--model", str(model), "--interface", "127.0.0.1", "--port", str(port),
            "--cors", *cors, "--enable-api", "--endpoints", str(endpoints), "--credentials", "credentials.yml"]


def is_healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (our own localhost URL)
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return False


def start(service: Service, log_path: Path) -> subprocess.Popen[bytes]:
    """Start the service in its own process group, logging to ``log_path``, and wait for health."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = log_path.open("ab")
    process = subprocess.Popen(
        service.command,
        cwd=service.cwd,
        env={**os.environ, **service.env},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + service.startup_timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServiceFailed(f"{service.name} exited with code {process.returncode}; see {log_path}")
        if is_healthy(service.health_url):
            return process
        time.sleep(0.5)
    stop(process)
    raise ServiceFailed(f"{service.name} did not answer {service.health_url} within {service.startup_timeout:.0f} s; see {log_path}")


def wait_for_workers(process: subprocess.Popen[bytes], ready_dir: Path, workers: int, timeout: float = 300.0) -> None:
    """Until ``workers`` Rasa workers started with ``RASA_READY_DIR=ready_dir`` have loaded their model."""
    deadline = time.monotonic() + timeout
    while len(list(ready_dir.iterdir())) < workers:
        if process.poll() is not None:
            raise ServiceFailed(f"Rasa exited with code {process.returncode} before its {workers} workers were ready")
        if time.monotonic() > deadline:
            raise ServiceFailed(f"only {len(list(ready_dir.iterdir()))} of {workers} Rasa workers ready after {timeout:.0f} s")
        time.sleep(0.5)


def stop(process: subprocess.Popen[bytes], grace_seconds: float = 10.0) -> None:
    """SIGTERM the whole process group, then SIGKILL whatever is left after the grace period."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=grace_seconds)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        pass
