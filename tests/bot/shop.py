"""Picking demo customers for action tests straight from the test database (the actions themselves use only the API)."""

import itertools
import sqlite3
from dataclasses import dataclass

import httpx

from conftest import Crm

_used: set[int] = set()
_round = itertools.count()


@dataclass(frozen=True)
class ShopCustomer:
    id: int
    email: str
    postcode: str
    order_number: str


def customer_where(crm: Crm, condition: str) -> ShopCustomer:
    """A customer (not used by an earlier test) with an order matching ``condition`` on ``o`` (orders) and ``c``."""
    with sqlite3.connect(crm.database_url.removeprefix("sqlite:///")) as db:
        rows = db.execute(
            "SELECT c.id, c.email, c.postcode, o.order_number FROM customers c JOIN orders o ON o.customer_id = c.id "
            f"WHERE c.email IS NOT NULL AND c.postcode IS NOT NULL AND c.closed_at IS NULL AND {condition} "
            "ORDER BY c.id % 13 DESC, c.id"
        ).fetchall()
    fresh = [ShopCustomer(*row) for row in rows if row[0] not in _used]
    assert fresh, f"the demo data should have a customer with {condition}"
    chosen = fresh[next(_round) % min(len(fresh), 3)]
    _used.add(chosen.id)
    return chosen


def agent_get(crm: Crm, path: str) -> httpx.Response:
    """What an agent sees in the CRM (any customer), to check what the actions changed."""
    return httpx.get(f"{crm.url}/api/v1{path}", headers=crm.agent_headers())


def route_missing(crm: Crm, path: str) -> bool:
    """Whether the CRM lacks an endpoint (404 for the route itself, not for a record)."""
    response = agent_get(crm, path)
    return response.status_code == 404 and response.json().get("error", {}).get("code") == "not_found"
