"""No N+1: resolving 100 entities costs the same few Redis round trips as resolving one.

Round trips are read from `STORE_COMMANDS` (store="redis"), which the store
increments once per round trip (the outbox relay's polling excluded: it runs in
the background whatever the request). As a server-side cross-check, Redis's own
`INFO commandstats` shows the number of MGETs (or script calls) does not grow either.
"""

import uuid
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from delivery.events import EventHandlers
from delivery.store import DeliveryStore
from shopkit.metrics import STORE_COMMANDS

from .conftest import Caller, graphql, order_delivery, payment_captured

ENTITIES = "query($representations: [_Any!]!) { _entities(representations: $representations) { %s } }"


def round_trips() -> float:
    return sum(
        sample.value
        for metric in STORE_COMMANDS.collect()
        for sample in metric.samples
        if sample.name.endswith("_total")
        and sample.labels["store"] == "redis"
        and not sample.labels["command"].startswith("OUTBOX")
    )


async def server_calls(redis: Redis, command: str) -> int:
    stats = await redis.info("commandstats")
    return int(stats.get(f"cmdstat_{command}", {}).get("calls", 0))


async def cost(
    client: httpx.AsyncClient,
    store_redis: Redis,
    selection: str,
    representations: list[dict[str, Any]],
    caller: Caller,
    server_command: str = "mget",
) -> tuple[float, int]:
    """(round trips counted by the store, `server_command`s counted by the Redis server) of one request."""
    trips, calls = round_trips(), await server_calls(store_redis, server_command)
    body = await graphql(client, ENTITIES % selection, {"representations": representations}, caller)
    assert "errors" not in body, body
    assert len(body["data"]["_entities"]) == len(representations)
    return round_trips() - trips, await server_calls(store_redis, server_command) - calls


@pytest.fixture
async def order_ids(handlers: EventHandlers, customer: Caller) -> list[str]:
    """100 orders of the customer, 99 with a delivery (one still unpaid)."""
    ids = [uuid.uuid4().hex for _ in range(100)]
    for order_id in ids[:-1]:
        await handlers.handle(payment_captured(order_id, customer.user_id))
    return ids


async def test_order_deliveries_cost_constant_round_trips(
    client: httpx.AsyncClient, store_redis: Redis, order_ids: list[str], customer: Caller, admin: Caller
) -> None:
    selection = "... on Order { id delivery { status events { status } } }"
    orders = [{"__typename": "Order", "id": order_id} for order_id in order_ids]
    await cost(client, store_redis, selection, orders[:1], customer)  # Redis loads the script once

    for caller in [customer, admin]:
        one = await cost(client, store_redis, selection, orders[:1], caller, "evalsha")
        hundred = await cost(client, store_redis, selection, orders, caller, "evalsha")
        # One script call reads each order's index key, its delivery and the delivery's events.
        assert one == hundred == (1, 1)


async def test_delivery_entities_cost_constant_round_trips(
    client: httpx.AsyncClient, store_redis: Redis, order_ids: list[str], customer: Caller
) -> None:
    delivery_ids = await store_redis.mget([f"delivery:by-order:{order_id}" for order_id in order_ids[:-1]])
    selection = "... on Delivery { id status order { id } events { status at } }"
    deliveries = [{"__typename": "Delivery", "id": delivery_id} for delivery_id in delivery_ids]

    one = await cost(client, store_redis, selection, deliveries[:1], customer)
    many = await cost(client, store_redis, selection, deliveries, customer)
    # MGET deliveries, one pipeline of LRANGE.
    assert one == many == (2, 1)


async def test_user_deliveries_cost_constant_round_trips(
    client: httpx.AsyncClient, store_redis: Redis, handlers: EventHandlers, admin: Caller
) -> None:
    user_ids = [uuid.uuid4().hex for _ in range(20)]
    for user_id in user_ids:
        for _ in range(5):
            await handlers.handle(payment_captured(uuid.uuid4().hex, user_id))
    selection = "... on User { id deliveries { status events { status } } }"
    users = [{"__typename": "User", "id": user_id} for user_id in user_ids]

    one = await cost(client, store_redis, selection, users[:1], admin)
    twenty = await cost(client, store_redis, selection, users, admin)
    # One pipeline of ZREVRANGE, MGET deliveries, one pipeline of LRANGE.
    assert one == twenty == (3, 1)


async def test_tracking_a_parcel_with_its_events_is_one_round_trip(
    client: httpx.AsyncClient, store_redis: Redis, store: DeliveryStore, order_ids: list[str]
) -> None:
    delivery = await order_delivery(store, order_ids[0])
    assert delivery is not None
    tracking_number, delivery_id = delivery.tracking_number, delivery.id
    query = "query($number: String!) { trackDelivery(trackingNumber: $number) { id events { status } } }"
    await graphql(client, query, {"number": tracking_number}, None)  # Redis loads the script once

    trips, scripts = round_trips(), await server_calls(store_redis, "evalsha")
    body = await graphql(client, query, {"number": tracking_number}, None)

    assert body["data"]["trackDelivery"]["id"] == delivery_id
    # One script call reads the tracking number's index key, the delivery and its events.
    assert (round_trips() - trips, await server_calls(store_redis, "evalsha") - scripts) == (1, 1)
