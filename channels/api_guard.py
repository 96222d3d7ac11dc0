"""Keeps Rasa's model routes (``/model``: parse, predict, train, test, replace) to the machine itself.

Rasa's HTTP API is on for the CRM (``--enable-api`` with a JWT secret), and with it come the routes that replace or
retrain the model. A request middleware refuses them unless the client is on a loopback address and the request did
not come through a proxy (a proxy on the same machine would otherwise make every outside client look local).
Channels install it from their blueprint's ``before_server_start`` listener.
"""

import posixpath
from collections.abc import Mapping
from ipaddress import ip_address
from urllib.parse import unquote

from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

FORWARDING_HEADERS = ("forwarded", "x-forwarded-for", "x-forwarded-host", "x-real-ip")


def is_model_route(path: str) -> bool:
    normal = posixpath.normpath("/" + unquote(path).lstrip("/")).lower()
    return normal == "/model" or normal.startswith("/model/")


def is_local_client(ip: str, headers: Mapping[str, str]) -> bool:
    """A direct connection from this machine: a loopback peer address and no proxy's forwarding headers."""
    try:
        loopback = ip_address(ip).is_loopback
    except ValueError:
        return False
    return loopback and not any(name in headers for name in FORWARDING_HEADERS)


async def refuse_model_routes(request: Request) -> HTTPResponse | None:
    if is_model_route(request.path) and not is_local_client(request.ip, request.headers):
        return response.json({"error": {"code": "forbidden", "message": "The model endpoints are not served to remote clients."}},
                             status=403)
    return None


def install_api_guard(app: Sanic) -> None:
    """Register the middleware once (Sanic skips a middleware that is already registered)."""
    app.register_middleware(refuse_model_routes, "request")
