"""Fixtures: a real redis-server (shopkit.testing), the app in-process, tokens, event helpers.

Each test gets two freshly flushed Redis databases on the session's server: one
for the store and one for the event streams, as in production (where they may
even be different servers). `same_redis` tests put both on one database.
"""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

import httpx
import pytest
from asgi_lifespan import LifespanManager
from redis.asyncio import Redis
from starlette.applications import Starlette

from delivery.app import create_app
from delivery.config import Settings
from delivery.events import STREAM, EventHandlers
from delivery.store import OUTBOX_KEY, DeliveryRecord, DeliveryStore
from shopkit import redis_client
from shopkit.auth import Role, TokenVerifier
from shopkit.events.envelope import Event
from shopkit.events.streams import EVENT_FIELD
from shopkit.tokens import TokenSigner

pytest_plugins = ["shopkit.testing"]

STORE_DB = 1
EVENTS_DB = 2
ADDRESS = {
    "line1": "Keizersgracht 1",
    "line2": None,
    "city": "Amsterdam",
    "postalCode": "1015 CJ",
    "country": "NL",
}

T = TypeVar("T")


def database_url(redis_url: str, db: int) -> str:
    return f"{redis_url.rsplit('/', 1)[0]}/{db}"


@pytest.fixture
def same_redis() -> bool:
    """Overridden by parametrized tests that run store and streams on one database."""
    return False


@pytest.fixture
async def settings(redis_url: str, same_redis: bool) -> Settings:
    store_url = database_url(redis_url, STORE_DB)
    events_url = store_url if same_redis else database_url(redis_url, EVENTS_DB)
    for url in {store_url, events_url}:
        redis = redis_client.connect(url)
        await redis.flushdb()
        await redis.aclose()
    # The tests write through a store of their own, as another process would: the app's
    # relay finds those events by sweeping, so it sweeps often.
    return Settings(
        redis_url=store_url,
        events_redis_url=events_url,
        jwks_url="http://127.0.0.1:9/unused",
        outbox_sweep_seconds=0.2,
    )


@pytest.fixture
def signer() -> TokenSigner:
    return TokenSigner.generate()


@pytest.fixture
def verifier(signer: TokenSigner) -> TokenVerifier:
    verifier = TokenVerifier("http://127.0.0.1:9/unused")
    verifier.use_keys(signer.public_keys())
    return verifier


@dataclass
class OrdersAnswers:
    """What orders answers delivery's shipOrder, per order, as the contract says it may
    (tests/contract/README.md): confirmed, CONFLICT (the order was cancelled), or HTTP 500.
    The real orders service answers it in the end-to-end suites (tests/e2e)."""

    refused: dict[str, str] = field(default_factory=dict)  # order id -> orders' CONFLICT message
    failing: set[str] = field(default_factory=set)
    requests: list[httpx.Request] = field(default_factory=list)

    def answer(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        order_id = json.loads(request.content)["variables"]["id"]
        if order_id in self.failing:
            return httpx.Response(500, text="Internal Server Error")
        if order_id in self.refused:
            error = {"message": self.refused[order_id], "extensions": {"code": "CONFLICT"}}
            return httpx.Response(200, json={"errors": [error], "data": None})
        return httpx.Response(200, json={"data": {"shipOrder": {"id": order_id, "status": "SHIPPED"}}})


@pytest.fixture
def orders_answers() -> OrdersAnswers:
    return OrdersAnswers()


@pytest.fixture
async def app(
    settings: Settings, verifier: TokenVerifier, orders_answers: OrdersAnswers
) -> AsyncIterator[Starlette]:
    application = create_app(
        settings, verifier=verifier, orders_transport=httpx.MockTransport(orders_answers.answer)
    )
    async with LifespanManager(application):
        yield application


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://delivery") as http:
        yield http


@pytest.fixture
async def store_redis(settings: Settings) -> AsyncIterator[Redis]:
    redis = redis_client.connect(settings.redis_url)
    yield redis
    await redis.aclose()


@pytest.fixture
async def events_redis(settings: Settings) -> AsyncIterator[Redis]:
    redis = redis_client.connect(settings.events_redis_url)
    yield redis
    await redis.aclose()


@pytest.fixture
def store(store_redis: Redis) -> DeliveryStore:
    return DeliveryStore(store_redis)


@pytest.fixture
def handlers(store: DeliveryStore) -> EventHandlers:
    return EventHandlers(store)


@dataclass(frozen=True)
class Caller:
    user_id: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token}"}


@pytest.fixture
def customer(signer: TokenSigner) -> Caller:
    user_id = uuid.uuid4().hex
    return Caller(user_id, signer.issue(user_id, Role.CUSTOMER))


@pytest.fixture
def other_customer(signer: TokenSigner) -> Caller:
    user_id = uuid.uuid4().hex
    return Caller(user_id, signer.issue(user_id, Role.CUSTOMER))


@pytest.fixture
def admin(signer: TokenSigner) -> Caller:
    user_id = uuid.uuid4().hex
    return Caller(user_id, signer.issue(user_id, Role.ADMIN))


def payment_captured(order_id: str, customer_id: str, *, event_id: str | None = None) -> Event:
    return Event(
        type="payment.captured",
        producer="payments",
        traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        id=event_id or uuid.uuid4().hex,
        data={
            "paymentId": uuid.uuid4().hex,
            "orderId": order_id,
            "customerId": customer_id,
            "amount": {"amount": 4200, "currency": "EUR"},
            "shippingAddress": ADDRESS,
            "capturedAt": datetime.now(UTC).isoformat(),
        },
    )


async def order_delivery(store: DeliveryStore, order_id: str) -> DeliveryRecord | None:
    """The order's delivery as the store reads it, without its events."""
    [tracked] = await store.order_deliveries([order_id])
    return None if tracked is None else tracked.delivery


async def scheduled(handlers: EventHandlers, store: DeliveryStore, customer: Caller) -> DeliveryRecord:
    """A SCHEDULED delivery for a new order of `customer`, made as payment.captured makes it."""
    order_id = uuid.uuid4().hex
    await handlers.handle(payment_captured(order_id, customer.user_id))
    record = await order_delivery(store, order_id)
    assert record is not None
    return record


def order_cancelled(order_id: str, customer_id: str, *, event_id: str | None = None) -> Event:
    return Event(
        type="order.cancelled",
        producer="orders",
        id=event_id or uuid.uuid4().hex,
        data={"orderId": order_id, "customerId": customer_id, "cancelledAt": datetime.now(UTC).isoformat()},
    )


async def graphql(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    caller: Caller | None = None,
) -> dict[str, Any]:
    response = await client.post(
        "/graphql",
        json={"query": query, "variables": variables or {}},
        headers=caller.headers if caller else {},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def error_codes(body: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in body.get("errors", [])]


async def eventually(check: Callable[[], Awaitable[T]], *, attempts: int = 200) -> T:
    """Polls until `check` returns something truthy (background tasks are asynchronous)."""
    for _ in range(attempts):
        result = await check()
        if result:
            return result
        await asyncio.sleep(0.05)
    raise AssertionError("the condition never became true")


async def snapshot(redis: Redis) -> dict[str, Any]:
    """Every key of a database with its value, to show that nothing changed."""
    state: dict[str, Any] = {}
    async for key in redis.scan_iter():
        kind = await redis.type(key)
        if kind == "string":
            state[key] = await redis.get(key)
        elif kind == "list":
            state[key] = await redis.lrange(key, 0, -1)
        elif kind == "zset":
            state[key] = await redis.zrange(key, 0, -1, withscores=True)
        elif kind == "stream":
            state[key] = await redis.xrange(key)
        else:
            state[key] = kind
    return state


async def published(events_redis: Redis, store_redis: Redis, count: int) -> list[dict[str, Any]]:
    """The envelopes on delivery's stream, once the relay has drained the outbox into `count` of them."""

    async def relayed() -> list[dict[str, Any]]:
        entries = cast(list[tuple[str, dict[str, str]]], await events_redis.xrange(STREAM))
        drained = await store_redis.llen(OUTBOX_KEY) == 0
        if not drained or len(entries) != count:
            return []
        return [json.loads(fields[EVENT_FIELD]) for _, fields in entries]

    return await eventually(relayed)
