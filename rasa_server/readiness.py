"""Each Rasa worker says when its model is loaded, so that whoever needs every worker can wait for all of them.

Sanic lets a worker accept connections only once its model is loaded, so a health check passes as soon as the
first worker is ready, and the others go on loading (15-40 s on a busy 2-core machine) while it answers everything.
With ``RASA_READY_DIR`` set, each worker writes a file named after its process id there once it is serving; the chat
benchmark waits for ``RASA_WORKERS`` of them (``ops.processes.wait_for_workers``) before it measures anything.
"""

import os
from pathlib import Path
from typing import Any

import rasa.core.run
from rasa.core.agent import Agent

from ops.processes import READY_DIR_VARIABLE

_rasa_load_agent_on_start = rasa.core.run.load_agent_on_start


async def load_agent_and_say_so(*args: Any, **kwargs: Any) -> Agent:
    agent = await _rasa_load_agent_on_start(*args, **kwargs)
    if ready_dir := os.environ.get(READY_DIR_VARIABLE):
        (Path(ready_dir) / str(os.getpid())).touch()
    return agent


def apply() -> None:
    """Before ``rasa run``: its server registers ``load_agent_on_start`` by the module's name when it starts."""
    rasa.core.run.load_agent_on_start = load_agent_and_say_so
