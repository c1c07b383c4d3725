"""Fixtures of the delivery contract suite: each selected implementation, running for real.

Per implementation and session: a redis-server of the suite's own (store on
database 1, event streams on database 0), a JWKS the suite serves and signs
tokens with, and the implementation's process pointed at both. Tests talk to
it only over HTTP and Redis. Logs stay in var/contract/<implementation>/.

Fixtures:
  delivery            the running implementation (`contract.service.Delivery`), parametrized
  composed            its served SDL composed with the other subgraphs' committed ones
  router_url          the Apollo Router serving that supergraph in front of it
  store, events       Redis clients on its store and on the event streams
  issuer              mints tokens the implementation verifies against the suite's JWKS
  orders_stand_in     the endpoint it asks to ship an order (`contract.orders`), one per implementation
  orders              the same, its requests and answers reset for the test
  customer, other_customer, admin   callers with fresh user ids
  scheduled           makes a SCHEDULED delivery for a new order of `customer`, through payment.captured
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from contract import layout
from contract.composition import Composed, compose_with
from contract.implementations import Implementation, selected
from contract.orders import OrdersStandIn, serving_orders
from contract.processes import REPO, RedisServer, running_redis
from contract.queries import data_of
from contract.router import running_router
from contract.service import Delivery, running_delivery
from contract.streams import PAYMENTS_STREAM, eventually, payment_captured, publish
from contract.tokens import Caller, Issuer, serving_jwks

LOG_ROOT = REPO / "var" / "contract"

Scheduled = Callable[[Caller], dict[str, Any]]


@pytest.fixture(scope="session")
def issuer() -> Issuer:
    return Issuer()


@pytest.fixture(scope="session")
def jwks_url(issuer: Issuer) -> Iterator[str]:
    with serving_jwks(issuer) as url:
        yield url


@pytest.fixture(scope="session", params=selected(), ids=lambda implementation: implementation.name)
def implementation(request: pytest.FixtureRequest) -> Implementation:
    chosen: Implementation = request.param
    return chosen


@pytest.fixture(scope="session")
def log_dir(implementation: Implementation) -> Path:
    directory = LOG_ROOT / implementation.name
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    return directory


@pytest.fixture(scope="session")
def redis_server(log_dir: Path) -> Iterator[RedisServer]:
    with running_redis(log_dir) as server:
        yield server


@pytest.fixture(scope="session")
def orders_stand_in(implementation: Implementation) -> Iterator[OrdersStandIn]:
    # Per implementation, like its Redis: what one sent is never read as the other's.
    with serving_orders() as stand_in:
        yield stand_in


@pytest.fixture
def orders(orders_stand_in: OrdersStandIn) -> OrdersStandIn:
    orders_stand_in.reset()
    return orders_stand_in


@pytest.fixture(scope="session")
def delivery(
    implementation: Implementation,
    redis_server: RedisServer,
    jwks_url: str,
    orders_stand_in: OrdersStandIn,
    log_dir: Path,
) -> Iterator[Delivery]:
    with running_delivery(implementation, redis_server, jwks_url, orders_stand_in.url, log_dir) as running:
        yield running


@pytest.fixture(scope="session")
def composed(delivery: Delivery, log_dir: Path) -> Composed:
    sdl: str = data_of(delivery.graphql("{ _service { sdl } }"))["_service"]["sdl"]
    return compose_with(sdl, log_dir / "composition")


@pytest.fixture(scope="session")
def router_url(composed: Composed, delivery: Delivery, log_dir: Path) -> Iterator[str]:
    with running_router(composed.supergraph, delivery.graphql_url, log_dir / "router") as url:
        yield url


@pytest.fixture
def store(delivery: Delivery) -> Iterator[redis.Redis]:
    client = delivery.store()
    yield client
    client.close()


@pytest.fixture
def events(delivery: Delivery) -> Iterator[redis.Redis]:
    client = delivery.events()
    yield client
    client.close()


@pytest.fixture
def customer(issuer: Issuer) -> Caller:
    return issuer.caller("CUSTOMER")


@pytest.fixture
def other_customer(issuer: Issuer) -> Caller:
    return issuer.caller("CUSTOMER")


@pytest.fixture
def admin(issuer: Issuer) -> Caller:
    return issuer.caller("ADMIN")


@pytest.fixture
def scheduled(store: redis.Redis, events: redis.Redis) -> Scheduled:
    """Publishes payment.captured for a new order of the caller; returns the stored delivery."""

    def schedule(recipient: Caller) -> dict[str, Any]:
        order_id = uuid.uuid4().hex
        publish(events, PAYMENTS_STREAM, payment_captured(order_id, recipient.user_id))
        return eventually(
            lambda: layout.record_for_order(store, order_id), what=f"a delivery for order {order_id}"
        )

    return schedule
