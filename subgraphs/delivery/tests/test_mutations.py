"""updateDeliveryStatus: ADMIN only, guarded state machine, one event per change; IN_TRANSIT
only once orders has confirmed the shipment."""

import json
import uuid
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from delivery.events import EventHandlers
from delivery.store import OUTBOX_KEY, DeliveryStore

from .conftest import (
    Caller,
    OrdersAnswers,
    error_codes,
    eventually,
    order_cancelled,
    published,
    scheduled,
    snapshot,
)
from .test_events import validate

UPDATE = """
mutation($id: ID!, $status: DeliveryStatus!, $note: String) {
  updateDeliveryStatus(id: $id, status: $status, note: $note) { id status updatedAt events { status note } }
}
"""
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


async def update(
    client: httpx.AsyncClient, caller: Caller | None, delivery_id: str, status: str, note: str | None = None
) -> dict[str, Any]:
    variables = {"id": delivery_id, "status": status, "note": note}
    response = await client.post(
        "/graphql",
        json={"query": UPDATE, "variables": variables},
        headers={**(caller.headers if caller else {}), "traceparent": TRACEPARENT},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.parametrize(
    "path",
    [["IN_TRANSIT", "DELIVERED"], ["FAILED"], ["IN_TRANSIT", "FAILED"]],
    ids=lambda path: "-".join(path),
)
async def test_admin_moves_a_delivery_along(
    client: httpx.AsyncClient,
    handlers: EventHandlers,
    store: DeliveryStore,
    store_redis: Redis,
    events_redis: Redis,
    customer: Caller,
    admin: Caller,
    path: list[str],
) -> None:
    record = await scheduled(handlers, store, customer)
    previous = "SCHEDULED"
    # Written behind the app's back (this store tells no relay), so only its sweep publishes it:
    # published first, as the app's own consumer's write would be.
    await published(events_redis, store_redis, count=1)

    for step, status in enumerate(path):
        body = await update(client, admin, record.id, status, note=f"  step {step}  ")
        assert "errors" not in body, body
        delivery = body["data"]["updateDeliveryStatus"]
        assert delivery["status"] == status
        assert delivery["events"][-1] == {"status": status, "note": f"step {step}"}
        assert len(delivery["events"]) == step + 2

    events = await published(events_redis, store_redis, count=1 + len(path))
    changes = events[1:]
    assert [event["data"]["status"] for event in changes] == path
    assert [event["data"]["previousStatus"] for event in changes] == [previous, *path[:-1]]
    for event in changes:
        assert event["type"] == "delivery.status_changed"
        assert event["traceparent"] == TRACEPARENT
        assert event["data"]["deliveryId"] == record.id
        assert event["data"]["orderId"] == record.order_id
        validate(event)


@pytest.mark.parametrize(
    ("path", "illegal"),
    [
        ([], "DELIVERED"),
        ([], "SCHEDULED"),
        ([], "CANCELLED"),
        (["IN_TRANSIT"], "IN_TRANSIT"),
        (["IN_TRANSIT"], "SCHEDULED"),
        (["IN_TRANSIT"], "CANCELLED"),
        (["IN_TRANSIT", "DELIVERED"], "IN_TRANSIT"),
        (["IN_TRANSIT", "DELIVERED"], "FAILED"),
        (["FAILED"], "IN_TRANSIT"),
        (["FAILED"], "DELIVERED"),
    ],
)
async def test_illegal_transitions_conflict_and_change_nothing(
    client: httpx.AsyncClient,
    handlers: EventHandlers,
    store: DeliveryStore,
    store_redis: Redis,
    events_redis: Redis,
    customer: Caller,
    admin: Caller,
    path: list[str],
    illegal: str,
) -> None:
    record = await scheduled(handlers, store, customer)
    for status in path:
        assert "errors" not in await update(client, admin, record.id, status)
    await published(events_redis, store_redis, count=1 + len(path))
    before = (await snapshot(store_redis), await snapshot(events_redis))

    body = await update(client, admin, record.id, illegal)

    assert body["data"] is None
    assert error_codes(body) == ["CONFLICT"]
    assert (await snapshot(store_redis), await snapshot(events_redis)) == before


async def test_a_cancelled_delivery_cannot_move(
    client: httpx.AsyncClient,
    handlers: EventHandlers,
    store: DeliveryStore,
    store_redis: Redis,
    customer: Caller,
    admin: Caller,
) -> None:
    record = await scheduled(handlers, store, customer)
    await handlers.handle(order_cancelled(record.order_id, customer.user_id))

    for status in ["IN_TRANSIT", "DELIVERED", "FAILED", "SCHEDULED"]:
        body = await update(client, admin, record.id, status)
        assert error_codes(body) == ["CONFLICT"]
    [after] = await store.deliveries([record.id])
    assert after is not None
    assert after.status.value == "CANCELLED"


async def test_only_an_admin_may_update(
    client: httpx.AsyncClient,
    handlers: EventHandlers,
    store: DeliveryStore,
    store_redis: Redis,
    customer: Caller,
) -> None:
    record = await scheduled(handlers, store, customer)
    await eventually(lambda: _outbox_drained(store_redis))
    before = await snapshot(store_redis)

    assert error_codes(await update(client, customer, record.id, "IN_TRANSIT")) == ["FORBIDDEN"]
    assert error_codes(await update(client, None, record.id, "IN_TRANSIT")) == ["UNAUTHENTICATED"]
    assert await snapshot(store_redis) == before


async def test_bad_input_is_refused_and_changes_nothing(
    client: httpx.AsyncClient,
    handlers: EventHandlers,
    store: DeliveryStore,
    store_redis: Redis,
    customer: Caller,
    admin: Caller,
) -> None:
    record = await scheduled(handlers, store, customer)
    await eventually(lambda: _outbox_drained(store_redis))
    before = await snapshot(store_redis)

    too_long = await update(client, admin, record.id, "IN_TRANSIT", note="x" * 501)
    assert error_codes(too_long) == ["BAD_USER_INPUT"]
    for unknown in [uuid.uuid4().hex, "outbox", '{"$gt": ""}']:
        assert error_codes(await update(client, admin, unknown, "IN_TRANSIT")) == ["NOT_FOUND"]
    not_a_status = await update(client, admin, record.id, "LOST")
    assert not_a_status["errors"][0]["message"].startswith("Variable '$status'")
    assert await snapshot(store_redis) == before


async def _outbox_drained(store_redis: Redis) -> bool:
    return await store_redis.llen(OUTBOX_KEY) == 0


async def test_in_transit_asks_orders_to_ship_the_order_first(
    client: httpx.AsyncClient,
    handlers: EventHandlers,
    store: DeliveryStore,
    customer: Caller,
    admin: Caller,
    orders_answers: OrdersAnswers,
) -> None:
    record = await scheduled(handlers, store, customer)

    body = await update(client, admin, record.id, "IN_TRANSIT")

    assert "errors" not in body, body
    [request] = orders_answers.requests
    assert request.method == "POST"
    assert str(request.url) == "http://127.0.0.1:4002/graphql"  # the default ORDERS_URL
    assert request.headers["authorization"] == admin.headers["authorization"]
    assert request.headers["traceparent"] == TRACEPARENT
    sent = json.loads(request.content)
    assert sent["variables"] == {"id": record.order_id}
    assert "shipOrder(id: $id)" in sent["query"]


async def test_orders_refusing_the_shipment_is_a_conflict_that_changes_nothing(
    client: httpx.AsyncClient,
    handlers: EventHandlers,
    store: DeliveryStore,
    store_redis: Redis,
    events_redis: Redis,
    customer: Caller,
    admin: Caller,
    orders_answers: OrdersAnswers,
) -> None:
    record = await scheduled(handlers, store, customer)
    refusal = "Order SG-000042 was cancelled and cannot ship."
    orders_answers.refused[record.order_id] = refusal
    await published(events_redis, store_redis, count=1)
    before = (await snapshot(store_redis), await snapshot(events_redis))

    body = await update(client, admin, record.id, "IN_TRANSIT")

    assert body["data"] is None
    [error] = body["errors"]
    assert error["message"] == refusal
    assert error["extensions"]["code"] == "CONFLICT"
    assert (await snapshot(store_redis), await snapshot(events_redis)) == before


async def test_orders_not_answering_is_retryable_and_changes_nothing(
    client: httpx.AsyncClient,
    handlers: EventHandlers,
    store: DeliveryStore,
    store_redis: Redis,
    events_redis: Redis,
    customer: Caller,
    admin: Caller,
    orders_answers: OrdersAnswers,
) -> None:
    record = await scheduled(handlers, store, customer)
    orders_answers.failing.add(record.order_id)
    await published(events_redis, store_redis, count=1)
    before = (await snapshot(store_redis), await snapshot(events_redis))

    body = await update(client, admin, record.id, "IN_TRANSIT")

    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"] == {"code": "SERVICE_UNAVAILABLE", "retryable": True, "retryAfterSeconds": 1}
    assert (await snapshot(store_redis), await snapshot(events_redis)) == before


async def test_only_a_legal_move_to_in_transit_asks_orders(
    client: httpx.AsyncClient,
    handlers: EventHandlers,
    store: DeliveryStore,
    customer: Caller,
    other_customer: Caller,
    admin: Caller,
    orders_answers: OrdersAnswers,
) -> None:
    failed = await scheduled(handlers, store, customer)
    assert "errors" not in await update(client, admin, failed.id, "FAILED")
    cancelled = await scheduled(handlers, store, other_customer)
    await handlers.handle(order_cancelled(cancelled.order_id, other_customer.user_id))

    assert error_codes(await update(client, admin, failed.id, "IN_TRANSIT")) == ["CONFLICT"]
    assert error_codes(await update(client, admin, cancelled.id, "IN_TRANSIT")) == ["CONFLICT"]
    assert error_codes(await update(client, admin, uuid.uuid4().hex, "IN_TRANSIT")) == ["NOT_FOUND"]
    assert error_codes(await update(client, customer, failed.id, "IN_TRANSIT")) == ["FORBIDDEN"]
    assert orders_answers.requests == []
