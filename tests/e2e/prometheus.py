"""The test stack's Prometheus as the monitoring tests read it, and a Shop on the router it scrapes.

Only the Apollo Router exports metrics (Apollo Gateway has none), so traffic the
dashboard must show goes through it when the stack runs it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from e2e.shop import Graph, Shop, sign_in
from stack import Stack


def alerts(prometheus_url: str) -> list[dict[str, Any]]:
    """Every pending or firing alert (GET /api/v1/alerts)."""
    response = httpx.get(f"{prometheus_url}api/v1/alerts", timeout=10.0)
    response.raise_for_status()
    found: list[dict[str, Any]] = response.json()["data"]["alerts"]
    return found


def instant_query(prometheus_url: str, promql: str) -> list[dict[str, Any]]:
    """The result vector of an instant query (GET /api/v1/query)."""
    response = httpx.get(f"{prometheus_url}api/v1/query", params={"query": promql}, timeout=10.0)
    response.raise_for_status()
    result: list[dict[str, Any]] = response.json()["data"]["result"]
    return result


@contextmanager
def scraped_shop(stack: Stack) -> Iterator[Shop]:
    """A Shop on the Apollo Router if the stack runs it, else on its first router."""
    config = stack.config
    router = "router" if "router" in config.routers else config.routers[0]
    with httpx.Client(timeout=60.0) as client:
        graph = Graph(config.url(router), client)
        admin = sign_in(graph, config.admin_email, config.admin_password)
        yield Shop(graph=graph, admin=admin)
