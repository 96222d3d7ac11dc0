"""Start ``rasa run`` with our speed-ups and long-session handling, and the HTTP API's secret from the environment.

    python -m rasa_server --model models/current.tar.gz --enable-api ...   (any ``rasa run`` options)

With ``--enable-api`` the API's JWT secret is read from ``RASA_JWT_SECRET`` (it must be set: the API never runs
without one) and given to Rasa inside this process, so that it never appears on a command line (``ps``).
"""

import os
import sys

from rasa_server import long_sessions, speedups


def rasa_arguments(options: list[str], environ: dict[str, str]) -> list[str]:
    """``rasa run`` with ``options``, and the API's JWT secret when the API is on."""
    if "--jwt-secret" in options:
        raise SystemExit("pass the API's secret in RASA_JWT_SECRET, not on the command line")
    arguments = ["rasa", "run", *options]
    if "--enable-api" in options:
        secret = environ.get("RASA_JWT_SECRET")
        if not secret:
            raise SystemExit("RASA_JWT_SECRET is not set: Rasa's HTTP API is never started without a secret")
        arguments += ["--jwt-secret", secret, "--jwt-method", "HS256"]
    return arguments


def main() -> None:
    sys.argv = rasa_arguments(sys.argv[1:], dict(os.environ))
    speedups.apply()
    long_sessions.apply()
    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    main()
