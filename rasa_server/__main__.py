"""Start ``rasa run`` with our speed-ups and long-session handling, and the HTTP API's secret from the environment.

    python -m rasa_server --model models/current.tar.gz --enable-api ...   (any ``rasa run`` options)

``RASA_WORKERS`` and ``RASA_REDIS_URL`` run several worker processes sharing Redis (``scaling``).

With ``--enable-api`` the API's JWT secret is read from ``RASA_JWT_SECRET`` (it must be set: the API never runs
without one) and given to Rasa inside this process, so that it never appears on a command line (``ps``).
"""

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

# One thread each for BLAS and TensorFlow, set before either is imported. The server handles one message at a time
# per process, and a message's matrices are small: extra threads only spin waiting for each other. Measured under
# bench-chat: Rasa's CPU per message 67 ms with the libraries' default threads, 35 ms with one.
SINGLE_THREADED = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                   "TF_INTRA_OP_PARALLELISM_THREADS": "1", "TF_INTER_OP_PARALLELISM_THREADS": "1"}
for name, value in SINGLE_THREADED.items():
    os.environ.setdefault(name, value)

# skops (the saved vectorisers' format) builds its list of trusted types at import by searching sys.modules for each
# type: 1.7 s before TensorFlow and Rasa fill sys.modules, 5.2 s after them, in every worker at every start.
import skops.io  # noqa: E402,F401

from rasa_server import long_sessions, readiness, scaling, speedups, turn_check  # noqa: E402


def rasa_arguments(options: list[str], environ: dict[str, str]) -> list[str]:
    """``rasa run`` with ``options``, and the API's JWT secret when the API is on."""
    if any(option.split("=")[0] == "--jwt-secret" for option in options):
        raise SystemExit("pass the API's secret in RASA_JWT_SECRET, not on the command line")
    arguments = ["rasa", "run", *options]
    if "--enable-api" in options:
        secret = environ.get("RASA_JWT_SECRET")
        if not secret:
            raise SystemExit("RASA_JWT_SECRET is not set: Rasa's HTTP API is never started without a secret")
        # one argument with "=": a secret that starts with "-" would otherwise be read as an option
        arguments += [f"--jwt-secret={secret}", "--jwt-method", "HS256"]
    return arguments


def main() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="rasa-server-"))  # the endpoints file with the Redis stores, if any
    atexit.register(shutil.rmtree, workdir, True)
    options, scaled_environment = scaling.scaled_options(sys.argv[1:], dict(os.environ), workdir)
    os.environ.update(scaled_environment)
    sys.argv = rasa_arguments(options, dict(os.environ))
    speedups.apply()
    long_sessions.apply()
    readiness.apply()
    turn_check.apply()
    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    main()
