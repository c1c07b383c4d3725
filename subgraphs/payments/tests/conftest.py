"""The payments app in-process, against the real redis-server and FerretDB of shopkit.testing."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import pytest
from asgi_lifespan import LifespanManager
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from redis.asyncio import Redis

from payments.app import create_app
from payments.config import Settings
from payments.events import ORDERS_STREAM
from payments.processor import CardProcessor
from payments.store import PaymentStore
from shopkit import redis_client
from shopkit.auth import Role, TokenVerifier
from shopkit.events.envelope import Event, stream_for
from shopkit.events.streams import publish, read_events
from shopkit.mongo import MongoDB
from shopkit.tokens import TokenSigner

pytest_plugins = ["shopkit.testing"]

PAYMENTS_STREAM = stream_for("payments")
GOOD_CARD = {"number": "4242424242424242", "expMonth": 12, "expYear": 2099, "cvc": "987"}
DECLINED_CARD = {**GOOD_CARD, "number": "4000000000000002"}
NO_FUNDS_CARD = {**GOOD_CARD, "number": "4000000000009995"}
# How long a test waits for something asynchronous (an event handled) before failing.
EVENTUAL = 15.0

PAY = """
mutation Pay($input: PayOrderInput!) {
  payOrder(input: $input) {
    id status failureReason amount { amount currency } refundedAmount { amount currency }
    card { brand last4 } order { id } payer { id } createdAt
  }
}
"""
REFUND = """
mutation Refund($id: ID!, $amount: Int) {
  refundPayment(id: $id, amount: $amount) { id status refundedAmount { amount currency } }
}
"""


def address() -> dict[str, Any]:
    return {
        "line1": "1 Main St",
        "line2": None,
        "city": "Springfield",
        "postalCode": "12345",
        "country": "US",
    }


@dataclass
class Shop:
    client: httpx.AsyncClient
    db: AsyncDatabase[dict[str, Any]]
    redis: Redis
    processor: CardProcessor
    signer: TokenSigner
    # Another handle on the app's database, for tests that run a step of the
    # service's work by hand (not opened: it takes no writer lock of its own).
    store: PaymentStore

    def token(self, user_id: str, role: Role = Role.CUSTOMER) -> str:
        return self.signer.issue(user_id, role)

    async def gql(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        as_user: str | None = None,
        role: Role = Role.CUSTOMER,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        all_headers = dict(headers or {})
        if as_user is not None:
            all_headers["Authorization"] = f"Bearer {self.token(as_user, role)}"
        response = await self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=all_headers
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def place_order(self, customer_id: str, amount: int = 2500, currency: str = "EUR") -> str:
        """Publishes order.placed as the orders service would; waits until payments projected it."""
        order_id = uuid.uuid4().hex
        await self.place_order_with_id(order_id, customer_id, amount, currency)
        await self.eventually(lambda: self.db.orders.find_one({"_id": order_id}))
        return order_id

    async def place_orders(
        self, customer_id: str, count: int, amount: int = 2500, *, sequenced: bool = False
    ) -> list[str]:
        """`sequenced`: the events carry customerSequence 1, 2, ... (as orders' do), else none
        (as events written before it existed)."""
        order_ids = [uuid.uuid4().hex for _ in range(count)]
        for seq, order_id in enumerate(order_ids, start=1):
            await self.place_order_with_id(order_id, customer_id, amount, sequence=seq if sequenced else None)

        async def all_projected() -> bool:
            return await self.db.orders.count_documents({"_id": {"$in": order_ids}}) == count

        await self.eventually(all_projected)
        return order_ids

    async def place_order_with_id(
        self,
        order_id: str,
        customer_id: str,
        amount: int = 2500,
        currency: str = "EUR",
        sequence: int | None = None,
    ) -> None:
        event = order_placed(order_id, customer_id, amount, currency, sequence)
        await publish(self.redis, ORDERS_STREAM, event)

    async def cancel_order(self, order_id: str, customer_id: str, event_id: str | None = None) -> Event:
        event = Event(
            type="order.cancelled",
            producer="orders",
            data={"orderId": order_id, "customerId": customer_id, "cancelledAt": "2030-01-01T00:00:00+00:00"},
            id=event_id or uuid.uuid4().hex,
        )
        await publish(self.redis, ORDERS_STREAM, event)
        return event

    async def pay(
        self, order_id: str, as_user: str, card: dict[str, Any] | None = None, key: str | None = None
    ) -> dict[str, Any]:
        variables = {
            "input": {
                "orderId": order_id,
                "card": card or GOOD_CARD,
                "idempotencyKey": key or uuid.uuid4().hex,
            }
        }
        return await self.gql(PAY, variables, as_user=as_user)

    async def eventually(self, probe: Callable[[], Awaitable[Any]]) -> Any:
        """Polls an async probe until it returns something truthy (not a timing assertion:
        the bound only keeps a broken build from hanging)."""
        deadline = asyncio.get_running_loop().time() + EVENTUAL
        while True:
            result = await probe()
            if result:
                return result
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError("the expected state was not reached")
            await asyncio.sleep(0.05)

    async def orders_stream_consumed(self) -> bool:
        """True once payments handled (and acknowledged) everything on the orders stream."""
        groups = await self.redis.xinfo_groups(ORDERS_STREAM)
        group = next((g for g in groups if g["name"] == "payments"), None)
        return group is not None and group["pending"] == 0 and group["lag"] == 0

    async def published(self, event_type: str | None = None) -> list[Event]:
        events = await read_events(self.redis, PAYMENTS_STREAM)
        return [e for e in events if event_type is None or e.type == event_type]

    async def outbox_drained(self) -> bool:
        return await self.db.payments.count_documents({"outbox.0": {"$exists": True}}) == 0


def order_placed(
    order_id: str, customer_id: str, amount: int, currency: str, sequence: int | None = None
) -> Event:
    return Event(
        type="order.placed",
        producer="orders",
        data={
            **({} if sequence is None else {"customerSequence": sequence}),
            "orderId": order_id,
            "number": "SG-000001",
            "customerId": customer_id,
            "items": [
                {
                    "sku": "SKU-1",
                    "name": "Thing",
                    "quantity": 1,
                    "unitPrice": {"amount": amount, "currency": currency},
                }
            ],
            "total": {"amount": amount, "currency": currency},
            "shippingAddress": address(),
            "placedAt": "2030-01-01T00:00:00+00:00",
        },
    )


def pooled(uri: str) -> str:
    """The URI without the test harness's one-connection limit.

    The app must keep its writes atomic on FerretDB by itself (one writer
    connection), so the concurrency tests run it with pooled connections.
    """
    parts = urlsplit(uri)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k.lower() != "maxpoolsize"]
    return urlunsplit(parts._replace(query=urlencode(query)))


@pytest.fixture
def settings(
    mongodb_uri: str, database_name: str, redis_url: str, ferretdb_postgresql_url: str | None
) -> Settings:
    return Settings(
        mongodb_uri=pooled(mongodb_uri),
        mongodb_database=database_name,
        ferretdb_postgresql_url=ferretdb_postgresql_url,
        events_redis_url=redis_url,
        order_wait_seconds=0.3,
        maintenance_interval_seconds=3600,
        outbox_sweep_seconds=0.05,
    )


@pytest.fixture
async def shop(settings: Settings) -> AsyncIterator[Shop]:
    redis = redis_client.connect(settings.events_redis_url)
    await redis.flushdb()  # streams and consumer groups start empty for every test
    signer = TokenSigner.generate()
    verifier = TokenVerifier("http://127.0.0.1:9/jwks-unused-in-tests")
    verifier.use_keys(signer.public_keys())
    processor = CardProcessor()
    app = create_app(settings, verifier=verifier, processor=processor)
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongodb_uri, tz_aware=True)
    side_mongodb = MongoDB(settings.mongodb_uri, settings.mongodb_database, service="payments")
    # Generous bounds: this machine is shared with heavy builds.
    async with LifespanManager(app, startup_timeout=30, shutdown_timeout=30) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://payments.test") as client:
            yield Shop(
                client=client,
                db=mongo[settings.mongodb_database],
                redis=redis,
                processor=processor,
                signer=signer,
                store=PaymentStore(side_mongodb),
            )
    await side_mongodb.close()
    await mongo.close()
    await redis.aclose()
