"""Where the database work of an ``async`` route or dependency runs.

SQLite answers from inside the process, from the page cache, in microseconds (a customer by id: ~5 us of SQLite time),
so its work runs right on the event loop: handing it to the thread pool costs more than the query, and the GIL
hand-offs between the loop and the pool threads made the slowest requests wait (bench-crm p99 65-82 ms through the
pool, 10-11 ms on the loop). A database across the network (PostgreSQL) waits on sockets, so its work goes to the pool.
Only reads, and closing a session (a rollback, which never waits), belong here: SQLite writes can wait up to
``busy_timeout`` for another writer, so writing routes stay synchronous (FastAPI runs them in the pool).
"""

from collections.abc import Callable
from typing import ParamSpec, TypeVar

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

P = ParamSpec("P")
T = TypeVar("T")


def _runs_in_process(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


async def run_db(session: Session, work: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """``work(*args, **kwargs)``, which reads through ``session``: inline for SQLite, in the thread pool otherwise."""
    if _runs_in_process(session):
        return work(*args, **kwargs)
    return await run_in_threadpool(work, *args, **kwargs)
