"""Fixtures: the orders app in-process, on a real FerretDB and redis-server."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from pymongo import AsyncMongoClient, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from redis.asyncio import Redis
from starlette.applications import Starlette

from orders import rules
from orders.app import create_app
from orders.config import Settings
from orders.store import CUSTOMER_HISTORY, ProductRecord, utc_now
from shopkit.auth import Role, TokenVerifier
from shopkit.mongo import Document
from shopkit.tokens import TokenSigner

pytest_plugins = ["shopkit.testing"]

ADDRESS = {"line1": "1 Infinite Loop", "city": "Cupertino", "postalCode": "95014", "country": "US"}


class GraphQL:
    """Posts operations to the app's /graphql, as a client of the subgraph would."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def __call__(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        all_headers = {**(headers or {}), **({"authorization": f"Bearer {token}"} if token else {})}
        response = await self._client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=all_headers
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


def error_codes(result: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in result.get("errors", [])]


class Tokens:
    def __init__(self, signer: TokenSigner) -> None:
        self._signer = signer

    def customer(self, user_id: str) -> str:
        return self._signer.issue(user_id, Role.CUSTOMER)

    def admin(self) -> str:
        return self._signer.issue("admin-" + uuid.uuid4().hex, Role.ADMIN)


@pytest.fixture(scope="session")
def signer() -> TokenSigner:
    return TokenSigner.generate()


@pytest.fixture
def tokens(signer: TokenSigner) -> Tokens:
    return Tokens(signer)


@pytest.fixture
async def events_redis_url(redis_url: str) -> str:
    """The session's redis-server, emptied: each test sees only its own events."""
    redis = Redis.from_url(redis_url)
    await redis.flushdb()
    await redis.aclose()
    return redis_url


@pytest.fixture
def settings(
    mongodb_uri: str, database_name: str, events_redis_url: str, ferretdb_postgresql_url: str | None
) -> Settings:
    return Settings(
        mongodb_uri=mongodb_uri,
        mongodb_database=database_name,
        ferretdb_postgresql_url=ferretdb_postgresql_url,
        events_redis_url=events_redis_url,
        jwks_url="http://127.0.0.1:9/unused-in-tests",
    )


def build_app(settings: Settings, signer: TokenSigner, *, background_workers: bool = True) -> Starlette:
    verifier = TokenVerifier(settings.jwks_url)
    verifier.use_keys(signer.public_keys())
    return create_app(settings, verifier=verifier, background_workers=background_workers)


async def _serve(app: Starlette) -> AsyncIterator[GraphQL]:
    async with (
        LifespanManager(app, startup_timeout=60, shutdown_timeout=60),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://orders") as client,
    ):
        yield GraphQL(client)


@pytest.fixture
async def gql(settings: Settings, signer: TokenSigner) -> AsyncIterator[GraphQL]:
    """The app with its outbox relay and event consumer running."""
    async for client in _serve(build_app(settings, signer)):
        yield client


@pytest.fixture
async def quiet_gql(settings: Settings, signer: TokenSigner) -> AsyncIterator[GraphQL]:
    """The app without background workers, so every store command is a request's."""
    async for client in _serve(build_app(settings, signer, background_workers=False)):
        yield client


@pytest.fixture
async def db(mongodb_uri: str, database_name: str) -> AsyncIterator[AsyncDatabase[Document]]:
    """Direct access to the service's database, to check what was (not) written."""
    client: AsyncMongoClient[Document] = AsyncMongoClient(mongodb_uri, tz_aware=True)
    yield client[database_name]
    await client.close()


@pytest.fixture
async def events_redis(events_redis_url: str) -> AsyncIterator[Redis]:
    redis = Redis.from_url(events_redis_url, decode_responses=True)
    yield redis
    await redis.aclose()


PLACE_ORDER = """
mutation Place($input: PlaceOrderInput!) {
  placeOrder(input: $input) {
    id number status createdAt updatedAt
    total { amount currency }
    items { quantity unitPrice { amount currency } lineTotal { amount currency } product { sku name } }
    shippingAddress { line1 line2 city postalCode country }
    customer { id }
    history { status event }
  }
}
"""


def place_input(items: list[dict[str, Any]], address: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"input": {"items": items, "shippingAddress": address or ADDRESS}}


async def place_order(gql: GraphQL, token: str, items: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    result = await gql(
        PLACE_ORDER, place_input(items or [{"sku": "MUG-CER-350", "quantity": 2}]), token=token
    )
    assert "errors" not in result, result
    order: dict[str, Any] = result["data"]["placeOrder"]
    return order


async def insert_orders(
    db: AsyncDatabase[Document],
    customer_id: str,
    count: int,
    *,
    start: datetime | None = None,
    same_time_every: int = 1,
) -> list[str]:
    """Stores `count` orders straight into the database (fast setup); returns ids, newest first.

    With `same_time_every=n`, groups of n orders share one createdAt, to test ties.
    """
    newest = start or utc_now()
    catalog = {
        doc["_id"]: ProductRecord.from_doc(doc)
        async for doc in db["products"].find({"_id": {"$in": ["MUG-CER-350", "NB-DOT-A5"]}})
    }
    priced = rules.price([rules.Line("MUG-CER-350", 1), rules.Line("NB-DOT-A5", 2)], catalog)
    documents: list[Document] = []
    for index in range(count):
        sequence = int(uuid.uuid4().int % 10**9)
        order = rules.new_order(
            order_id=uuid.uuid4().hex,
            number=rules.order_number(sequence),
            customer_id=customer_id,
            customer_seq=0,  # given below, as insert_order would have
            priced=priced,
            shipping_address={**ADDRESS, "line2": None},
            now=newest - timedelta(seconds=index // same_time_every),
        )
        documents.append({**order.to_doc(), "appliedEvents": []})
    # Positions in the customer's history as OrderStore.insert_order gives them, oldest first.
    oldest_first = sorted(documents, key=lambda doc: (doc["createdAt"], doc["_id"]))
    if documents:
        counter = await db["counters"].find_one_and_update(
            {"_id": CUSTOMER_HISTORY.counter_id(customer_id)},
            {"$inc": {"value": count}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        assert counter is not None, "an upsert always returns the document"
        for seq, document in enumerate(oldest_first, start=counter["value"] - count + 1):
            document.update(CUSTOMER_HISTORY.position(customer_id, seq))
        await db["orders"].insert_many(documents)
    return [doc["_id"] for doc in reversed(oldest_first)]


async def eventually(check: Callable[[], Awaitable[bool]], what: str, attempts: int = 600) -> None:
    """Waits for asynchronous work (relay, consumer) to show its effect; a guard against hangs."""
    for _ in range(attempts):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"never happened: {what}")
