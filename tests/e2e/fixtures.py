"""Fixtures shared by the e2e, fault and event suites, on top of tests/conftest.py.

tests/conftest.py starts the throwaway test stack and hands out its router URL
and its controller; these fixtures add what the suites need around them: a
`Shop` (operations through the router), fresh customers, the admin, and direct
clients of the stores for counting what really happened. Each suite's
conftest.py imports them.
"""

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pymongo import MongoClient
from pymongo.database import Database
from redis import Redis

from e2e.shop import Account, Graph, Shop, sign_in
from stack import Stack

SUBGRAPHS = ("users", "orders", "payments", "delivery")


@pytest.fixture(scope="session")
def shop(router_url: str, stack_control: Stack) -> Iterator[Shop]:
    config = stack_control.config
    with httpx.Client(timeout=60.0) as client:
        graph = Graph(router_url, client)
        admin = sign_in(graph, config.admin_email, config.admin_password)
        assert admin.role == "ADMIN", admin
        yield Shop(graph=graph, admin=admin)


@pytest.fixture(scope="session")
def module_shop(shop: Shop) -> Shop:
    """The same Shop, for module-scoped fixtures (named apart for readability only)."""
    return shop


@pytest.fixture
def customer(shop: Shop) -> Account:
    """A customer registered through the router for this test alone."""
    return shop.register()


@pytest.fixture(scope="session")
def subgraph_urls(stack_control: Stack) -> dict[str, str]:
    return {name: stack_control.config.url(name) for name in SUBGRAPHS}


@pytest.fixture(scope="session")
def metrics_urls(stack_control: Stack, router_name: str) -> dict[str, str]:
    """Each service's /metrics, of the process that this router sends its requests to."""
    config = stack_control.config
    return {
        name: config.url(config.serving(name, router_name)).removesuffix("/graphql") + "/metrics"
        for name in SUBGRAPHS
    }


@pytest.fixture(scope="session")
def router_health_url(stack_control: Stack, router_name: str) -> str:
    url: str = stack_control.config.health_url(router_name)
    return url


@pytest.fixture(scope="session")
def mongo_client(stack_control: Stack) -> Iterator[MongoClient[dict[str, Any]]]:
    client: MongoClient[dict[str, Any]] = MongoClient(
        f"mongodb://127.0.0.1:{stack_control.config.ports['ferretdb']}/", tz_aware=True
    )
    yield client
    client.close()


@pytest.fixture(scope="session")
def payments_db(mongo_client: MongoClient[dict[str, Any]]) -> Database[dict[str, Any]]:
    return mongo_client["payments"]


@pytest.fixture(scope="session")
def orders_db(mongo_client: MongoClient[dict[str, Any]]) -> Database[dict[str, Any]]:
    return mongo_client["orders"]


def _redis(stack_control: Stack, db: int) -> Redis:
    return Redis(port=stack_control.config.ports["redis"], db=db, decode_responses=True, socket_timeout=10)


@pytest.fixture(scope="session")
def events_redis(stack_control: Stack) -> Iterator[Redis]:
    """The Redis holding the event streams (database 0 of the test stack's redis-server)."""
    client = _redis(stack_control, 0)
    yield client
    client.close()


@pytest.fixture(scope="session")
def delivery_store(stack_control: Stack) -> Iterator[Redis]:
    """The delivery service's store (database 1 of the test stack's redis-server)."""
    client = _redis(stack_control, 1)
    yield client
    client.close()
