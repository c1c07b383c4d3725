"""Consuming payment.captured and order.cancelled: exactly one delivery per order, tombstones, idempotency."""

import asyncio
import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from redis.asyncio import Redis
from starlette.applications import Starlette

from delivery.events import EventHandlers
from delivery.rules import CARRIERS, DeliveryStatus, carrier_for, estimated_delivery
from delivery.store import OUTBOX_KEY, DeliveryStore
from shopkit.events.envelope import Event
from shopkit.events.streams import publish

from .conftest import ADDRESS, eventually, order_cancelled, order_delivery, payment_captured, published

SCHEMAS = Path(__file__).resolve().parents[3] / "events" / "schemas"


def validate(event_doc: dict[str, Any]) -> None:
    schema = json.loads((SCHEMAS / f"{event_doc['type']}.v{event_doc['version']}.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    validator.validate(event_doc["data"])


async def outbox(store_redis: Redis) -> list[dict[str, Any]]:
    return [json.loads(raw) for raw in await store_redis.lrange(OUTBOX_KEY, 0, -1)]


async def test_payment_captured_schedules_a_delivery(
    handlers: EventHandlers, store: DeliveryStore, store_redis: Redis
) -> None:
    order_id, customer_id = uuid.uuid4().hex, uuid.uuid4().hex
    before = datetime.now(UTC)
    event = payment_captured(order_id, customer_id)

    await handlers.handle(event)

    delivery = await order_delivery(store, order_id)
    assert delivery is not None
    assert delivery.status is DeliveryStatus.SCHEDULED
    assert delivery.recipient_id == customer_id
    assert delivery.address == ADDRESS
    assert delivery.carrier == carrier_for(order_id)
    assert delivery.carrier in CARRIERS
    assert re.fullmatch(r"SG[A-Z2-7]{16}", delivery.tracking_number)
    assert delivery.estimated_delivery is not None
    # The end (18:00 UTC) of a working day 3 to 5 business days on: compared by date,
    # since a delivery scheduled after 18:00 is due before the same hour 3 days on.
    assert delivery.estimated_delivery.hour == 18
    assert (before + timedelta(days=3)).date() <= delivery.estimated_delivery.date()
    assert delivery.estimated_delivery.date() <= (before + timedelta(days=9)).date()
    tracked = await store.tracked_delivery(delivery.tracking_number)
    assert tracked is not None
    assert tracked.delivery == delivery
    assert await store.deliveries_for_recipients([customer_id]) == [[delivery]]
    [[entry]] = await store.tracking_events([delivery.id])
    assert entry.status is DeliveryStatus.SCHEDULED

    [produced] = await outbox(store_redis)
    assert produced["type"] == "delivery.scheduled"
    assert produced["traceparent"] == event.traceparent
    assert produced["data"]["deliveryId"] == delivery.id
    validate(produced)


def test_estimated_delivery_counts_business_days_only() -> None:
    friday = datetime(2026, 1, 2, 10, 0, tzinfo=UTC)
    for order_number in range(20):
        estimate = estimated_delivery(f"order-{order_number}", friday)
        # 3..5 business days after a Friday: Wednesday 7th to Friday 9th.
        assert datetime(2026, 1, 7, tzinfo=UTC) <= estimate <= datetime(2026, 1, 9, 23, tzinfo=UTC)
        assert estimate.weekday() < 5


def test_tracking_numbers_differ() -> None:
    from delivery.rules import new_tracking_number

    numbers = {new_tracking_number() for _ in range(1000)}
    assert len(numbers) == 1000


async def test_same_event_twice_creates_one_delivery(
    handlers: EventHandlers, store: DeliveryStore, store_redis: Redis
) -> None:
    order_id, customer_id = uuid.uuid4().hex, uuid.uuid4().hex
    event = payment_captured(order_id, customer_id)

    await handlers.handle(event)
    state = await store.order_deliveries([order_id])
    await handlers.handle(event)

    assert await store.order_deliveries([order_id]) == state
    assert len(await outbox(store_redis)) == 1


async def test_concurrent_duplicates_create_exactly_one_delivery(
    handlers: EventHandlers, store: DeliveryStore, store_redis: Redis
) -> None:
    order_id, customer_id = uuid.uuid4().hex, uuid.uuid4().hex
    same_event = payment_captured(order_id, customer_id)
    # Redeliveries of one event, and distinct events about the same order (a replayed payment).
    duplicates = [same_event] * 20 + [payment_captured(order_id, customer_id) for _ in range(20)]

    await asyncio.gather(*(handlers.handle(event) for event in duplicates))

    [delivery] = await store.deliveries_for_recipients([customer_id])
    assert len(delivery) == 1
    assert len(await store_redis.keys("delivery:by-tracking:*")) == 1
    assert len((await store.tracking_events([delivery[0].id]))[0]) == 1
    assert [event["type"] for event in await outbox(store_redis)] == ["delivery.scheduled"]


async def test_cancellation_before_capture_prevents_the_delivery(
    handlers: EventHandlers, store: DeliveryStore, store_redis: Redis
) -> None:
    order_id, customer_id = uuid.uuid4().hex, uuid.uuid4().hex

    await handlers.handle(order_cancelled(order_id, customer_id))
    await handlers.handle(payment_captured(order_id, customer_id))

    assert await store.order_deliveries([order_id]) == [None]
    assert await store_redis.exists(f"delivery:cancelled-order:{order_id}")
    assert await outbox(store_redis) == []


async def test_order_cancelled_cancels_a_scheduled_delivery_once(
    handlers: EventHandlers, store: DeliveryStore, store_redis: Redis
) -> None:
    order_id, customer_id = uuid.uuid4().hex, uuid.uuid4().hex
    await handlers.handle(payment_captured(order_id, customer_id))
    cancellation = order_cancelled(order_id, customer_id)

    await handlers.handle(cancellation)
    await handlers.handle(cancellation)
    await handlers.handle(order_cancelled(order_id, customer_id))  # another event, same order

    delivery = await order_delivery(store, order_id)
    assert delivery is not None
    assert delivery.status is DeliveryStatus.CANCELLED
    [entries] = await store.tracking_events([delivery.id])
    assert [entry.status for entry in entries] == [DeliveryStatus.SCHEDULED, DeliveryStatus.CANCELLED]
    produced = await outbox(store_redis)
    assert [event["type"] for event in produced] == ["delivery.scheduled", "delivery.status_changed"]
    assert produced[1]["data"]["status"] == "CANCELLED"
    assert produced[1]["data"]["previousStatus"] == "SCHEDULED"
    for event in produced:
        validate(event)


async def test_order_cancelled_leaves_a_delivery_in_transit(
    handlers: EventHandlers, store: DeliveryStore, store_redis: Redis
) -> None:
    order_id, customer_id = uuid.uuid4().hex, uuid.uuid4().hex
    await handlers.handle(payment_captured(order_id, customer_id))
    delivery = await order_delivery(store, order_id)
    assert delivery is not None
    await store.change_status(
        delivery.id,
        DeliveryStatus.IN_TRANSIT,
        note=None,
        at=datetime.now(UTC),
        event_for=lambda change: Event(type="delivery.status_changed", producer="delivery", data={}),
    )

    await handlers.handle(order_cancelled(order_id, customer_id))

    after = await order_delivery(store, order_id)
    assert after is not None
    assert after.status is DeliveryStatus.IN_TRANSIT
    assert len(await outbox(store_redis)) == 2  # scheduled + in transit, no cancellation


@pytest.mark.parametrize("broken", ["orderId", "customerId", "shippingAddress"])
async def test_malformed_payment_captured_is_refused_and_writes_nothing(
    handlers: EventHandlers, store_redis: Redis, broken: str
) -> None:
    event = payment_captured(uuid.uuid4().hex, uuid.uuid4().hex)
    data = {key: value for key, value in event.data.items() if key != broken}

    with pytest.raises(ValueError, match=broken):
        await handlers.handle(Event(type=event.type, producer=event.producer, data=data))

    assert await store_redis.dbsize() == 0


async def test_unrelated_events_are_ignored(handlers: EventHandlers, store_redis: Redis) -> None:
    await handlers.handle(Event(type="order.placed", producer="orders", data={"orderId": "x"}))
    await handlers.handle(Event(type="payment.failed", producer="payments", data={"orderId": "x"}))
    assert await store_redis.dbsize() == 0


async def _consumed(events_redis: Redis, stream: str, entry_id: str) -> bool:
    """The delivery group has read up to `entry_id` on `stream` and acknowledged everything."""
    groups = {group["name"]: group for group in await events_redis.xinfo_groups(stream)}
    group = groups.get("delivery")
    return group is not None and group["last-delivered-id"] == entry_id and group["pending"] == 0


@pytest.mark.parametrize("same_redis", [False, True], ids=["separate-event-redis", "one-redis"])
async def test_events_flow_through_real_streams(
    app: Starlette, events_redis: Redis, store: DeliveryStore, store_redis: Redis
) -> None:
    """The running app consumes from the streams and relays its outbox to its own stream."""
    order_id, customer_id = uuid.uuid4().hex, uuid.uuid4().hex
    captured = payment_captured(order_id, customer_id)

    first = await publish(events_redis, "shopgraph.events.payments", captured)
    await eventually(lambda: _consumed(events_redis, "shopgraph.events.payments", first))
    # A redelivery (e.g. an outbox relay that republished) changes nothing.
    again = await publish(events_redis, "shopgraph.events.payments", captured)
    await eventually(lambda: _consumed(events_redis, "shopgraph.events.payments", again))
    cancelled = await publish(events_redis, "shopgraph.events.orders", order_cancelled(order_id, customer_id))
    await eventually(lambda: _consumed(events_redis, "shopgraph.events.orders", cancelled))

    produced = await published(events_redis, store_redis, count=2)
    assert [event["type"] for event in produced] == ["delivery.scheduled", "delivery.status_changed"]
    assert {event["traceparent"] for event in produced[:1]} == {captured.traceparent}
    for event in produced:
        assert event["producer"] == "delivery"
        validate(event)
    assert len(await store_redis.keys("delivery:by-order:*")) == 1
