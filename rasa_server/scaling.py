"""Several Rasa worker processes on one machine or more: Redis then holds what the workers share.

``RASA_WORKERS`` (default 1) worker processes answer on one port; with more than one, ``RASA_REDIS_URL``
(``redis://host:port/db``) is required and holds the conversations (tracker store: their latest session,
``tracker_store.py``; what the customer was shown in the earlier ones, ``transcripts.py``), their locks (lock store:
taken and given back atomically, ``lock_store.py``) and the interaction log's verification tokens
(event_brokers/crm_interactions.py), all under ``RASA_REDIS_KEY_PREFIX``.
A message of the app REST channel can then be handled by any worker, and the website widget's socket.io rooms span
the workers through Redis pub/sub (channels/web_channel.py: each tab's websocket stays with the worker it connected
to, and what any worker sends to a session reaches all its tabs).
"""

import os
import re
from pathlib import Path
from urllib.parse import urlparse

from rasa_server.lock_store import AtomicRedisLockStore
from rasa_server.tracker_store import LatestSessionRedisTrackerStore

DEFAULT_KEY_PREFIX = "shopassistant"
TRACKER_TTL_SECONDS = 7 * 24 * 3600  # a conversation not touched for a week is forgotten


def redis_url(environ: dict[str, str]) -> str | None:
    return environ.get("RASA_REDIS_URL") or None


def key_prefix(environ: dict[str, str]) -> str:
    """Rasa accepts only letters and digits in a Redis key prefix."""
    prefix = environ.get("RASA_REDIS_KEY_PREFIX", DEFAULT_KEY_PREFIX)
    if not re.fullmatch(r"[A-Za-z0-9]+", prefix):
        raise SystemExit(f"RASA_REDIS_KEY_PREFIX must be letters and digits only, not {prefix!r}")
    return prefix


def workers(environ: dict[str, str]) -> int:
    count = int(environ.get("RASA_WORKERS", "1"))
    if count < 1:
        raise SystemExit("RASA_WORKERS must be at least 1")
    if count > 1 and not redis_url(environ):
        raise SystemExit("RASA_WORKERS > 1 needs RASA_REDIS_URL: the workers share conversations through Redis")
    return count


def class_path(store_class: type) -> str:
    return f"{store_class.__module__}.{store_class.__name__}"


def redis_endpoints(base: Path, url: str, prefix: str, target: Path) -> Path:
    """``base`` (endpoints.yml) plus a Redis tracker store and lock store under ``prefix``, written to ``target``."""
    parsed = urlparse(url)
    if parsed.scheme != "redis" or not parsed.hostname:
        raise SystemExit(f"RASA_REDIS_URL must look like redis://host:port/db, not {url!r}")
    store = (f"  type: redis\n  url: {parsed.hostname}\n  port: {parsed.port or 6379}\n"
             f"  db: {int(parsed.path.strip('/') or 0)}\n  key_prefix: {prefix}\n")
    if parsed.password:
        store += "  password: ${RASA_REDIS_PASSWORD}\n"  # read by Rasa from the environment, never written here
    tracker_store = store.replace("type: redis", f"type: {class_path(LatestSessionRedisTrackerStore)}")
    lock_store = store.replace("type: redis", f"type: {class_path(AtomicRedisLockStore)}")
    target.write_text(base.read_text() + f"\ntracker_store:\n{tracker_store}  record_exp: {TRACKER_TTL_SECONDS}\n\n"
                      f"lock_store:\n{lock_store}")
    return target


def scaled_options(options: list[str], environ: dict[str, str], workdir: Path) -> tuple[list[str], dict[str, str]]:
    """``rasa run`` options and environment for ``RASA_WORKERS`` / ``RASA_REDIS_URL``: unchanged without Redis."""
    url = redis_url(environ)
    count = workers(environ)
    if url is None:
        return options, {}
    if "--endpoints" not in options:
        raise SystemExit("RASA_REDIS_URL needs --endpoints (the endpoints.yml the Redis stores are added to)")
    options = list(options)
    at = options.index("--endpoints") + 1
    options[at] = str(redis_endpoints(Path(options[at]), url, key_prefix(environ), workdir / "endpoints.yml"))
    extra = {"SANIC_WORKERS": str(count)}
    password = urlparse(url).password
    if password:
        extra["RASA_REDIS_PASSWORD"] = password
    return options, extra
