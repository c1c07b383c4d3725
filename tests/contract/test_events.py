"""Events: delivery consumes `payment.captured` and `order.cancelled` (group `delivery`) and
produces `delivery.scheduled` and `delivery.status_changed` on `shopgraph.events.delivery`, every
envelope valid against events/schemas/. A redelivered event changes nothing; an entry is
acknowledged only once handled; a failing one is retried and, after 20 deliveries, dead-lettered
with an unreadable one at once; a dead consumer's pending entries are claimed.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import redis

from contract import layout
from contract.streams import (
    ADDRESS,
    DELIVERY_STREAM,
    EVENT_FIELD,
    GROUP,
    ORDERS_STREAM,
    PAYMENTS_STREAM,
    TRACEPARENT,
    consumed,
    dead_letters_of,
    envelope,
    eventually,
    hand_to_dead_consumer,
    order_cancelled,
    payment_captured,
    pending,
    produced,
    produced_of_type,
    publish,
    validate,
    wait_for_group_idle,
)

CARRIERS = ("DHL", "UPS", "DPD", "PostNL")
MAX_DELIVERIES = 20
APPLIED_EVENT_TTL = 30 * 24 * 3600


def expected_carrier(order_id: str) -> str:
    return CARRIERS[hashlib.sha256(order_id.encode()).digest()[0] % len(CARRIERS)]


def expected_estimate(order_id: str, scheduled_at: datetime) -> str:
    """The end (18:00 UTC) of the working day 3 to 5 business days on, chosen by the order id."""
    business_days = 3 + hashlib.sha256(order_id.encode()).digest()[1] % 3
    day = scheduled_at.astimezone(UTC)
    while business_days:
        day += timedelta(days=1)
        if day.weekday() < 5:
            business_days -= 1
    return day.replace(hour=18, minute=0, second=0, microsecond=0).isoformat()


def delivery_of(store: redis.Redis, order_id: str) -> dict[str, Any]:
    return eventually(
        lambda: layout.record_for_order(store, order_id), what=f"a delivery for order {order_id}"
    )


def handled(events: redis.Redis, stream: str, entry_id: str) -> None:
    eventually(lambda: consumed(events, stream, entry_id), what=f"entry {entry_id} of {stream} acknowledged")


def test_payment_captured_schedules_one_delivery_and_announces_it(
    store: redis.Redis, events: redis.Redis
) -> None:
    order_id, customer_id = uuid.uuid4().hex, uuid.uuid4().hex
    captured = payment_captured(order_id, customer_id)

    entry_id = publish(events, PAYMENTS_STREAM, captured)

    record = delivery_of(store, order_id)
    handled(events, PAYMENTS_STREAM, entry_id)
    created_at = datetime.fromisoformat(record["createdAt"])
    assert set(record) == layout.RECORD_FIELDS
    assert record["orderId"] == order_id
    assert record["recipientId"] == customer_id
    assert record["status"] == "SCHEDULED"
    assert record["address"] == ADDRESS
    assert record["carrier"] == expected_carrier(order_id)
    assert record["estimatedDelivery"] == expected_estimate(order_id, created_at)
    assert record["updatedAt"] == record["createdAt"]
    assert created_at.utcoffset() == timedelta(0)
    assert abs((datetime.now(UTC) - created_at).total_seconds()) < 30
    assert re.fullmatch(r"[0-9a-f]{32}", record["id"])
    assert re.fullmatch(r"SG[A-Z2-7]{16}", record["trackingNumber"])
    assert layout.entries(store, record["id"]) == [
        {"status": "SCHEDULED", "at": record["createdAt"], "note": f"Handed to {record['carrier']}."}
    ]
    assert store.get(layout.by_tracking(record["trackingNumber"])) == record["id"]
    assert store.zrange(layout.by_recipient(customer_id), 0, -1, withscores=True) == [
        (record["id"], created_at.timestamp())
    ]
    assert store.get(layout.applied_event(captured["id"])) == "1"
    assert APPLIED_EVENT_TTL - 60 < store.ttl(layout.applied_event(captured["id"])) <= APPLIED_EVENT_TTL

    [announced] = produced_of_type(events, order_id, "delivery.scheduled", 1)
    validate(announced)
    assert announced["producer"] == "delivery"
    assert announced["traceparent"] == TRACEPARENT
    assert announced["data"] == {
        "deliveryId": record["id"],
        "orderId": order_id,
        "recipientId": customer_id,
        "carrier": record["carrier"],
        "trackingNumber": record["trackingNumber"],
        "estimatedDelivery": record["estimatedDelivery"],
    }
    eventually(lambda: store.llen(layout.OUTBOX) == 0, what="the outbox drained")


def test_redelivery_and_duplicates_change_nothing(store: redis.Redis, events: redis.Redis) -> None:
    order_id, customer_id = uuid.uuid4().hex, uuid.uuid4().hex
    captured = payment_captured(order_id, customer_id)
    # The same event three times (an outbox relay republishing), and another capture of the order.
    entries = [publish(events, PAYMENTS_STREAM, captured) for _ in range(3)]
    entries.append(publish(events, PAYMENTS_STREAM, payment_captured(order_id, customer_id)))
    for entry_id in entries:
        handled(events, PAYMENTS_STREAM, entry_id)
    cancelled = order_cancelled(order_id, customer_id)
    entries = [publish(events, ORDERS_STREAM, cancelled) for _ in range(2)]
    for entry_id in entries:
        handled(events, ORDERS_STREAM, entry_id)

    record = delivery_of(store, order_id)
    assert store.zcard(layout.by_recipient(customer_id)) == 1
    assert [entry["status"] for entry in layout.entries(store, record["id"])] == ["SCHEDULED", "CANCELLED"]
    eventually(lambda: store.llen(layout.OUTBOX) == 0, what="the outbox drained")
    assert [event["type"] for event in produced(events, order_id)] == [
        "delivery.scheduled",
        "delivery.status_changed",
    ]


def test_order_cancelled_cancels_a_scheduled_delivery(store: redis.Redis, events: redis.Redis) -> None:
    order_id, customer_id = uuid.uuid4().hex, uuid.uuid4().hex
    publish(events, PAYMENTS_STREAM, payment_captured(order_id, customer_id))
    scheduled = delivery_of(store, order_id)

    publish(events, ORDERS_STREAM, order_cancelled(order_id, customer_id))

    [change] = produced_of_type(events, order_id, "delivery.status_changed", 1)
    validate(change)
    record = layout.record(store, scheduled["id"])
    last = layout.entries(store, scheduled["id"])[-1]
    assert record["status"] == "CANCELLED"
    assert last == {"status": "CANCELLED", "at": record["updatedAt"], "note": "The order was cancelled."}
    assert change["traceparent"] == TRACEPARENT
    assert change["data"] == {
        "deliveryId": scheduled["id"],
        "orderId": order_id,
        "status": "CANCELLED",
        "previousStatus": "SCHEDULED",
        "note": "The order was cancelled.",
        "at": record["updatedAt"],
    }
    assert store.get(layout.cancelled_order(order_id)) is not None


def test_a_cancelled_order_gets_no_delivery(store: redis.Redis, events: redis.Redis) -> None:
    order_id, customer_id = uuid.uuid4().hex, uuid.uuid4().hex

    handled(events, ORDERS_STREAM, publish(events, ORDERS_STREAM, order_cancelled(order_id, customer_id)))
    tombstone = store.get(layout.cancelled_order(order_id))
    handled(
        events, PAYMENTS_STREAM, publish(events, PAYMENTS_STREAM, payment_captured(order_id, customer_id))
    )

    assert tombstone is not None
    datetime.fromisoformat(cast(str, tombstone))
    assert store.get(layout.by_order(order_id)) is None
    assert store.zcard(layout.by_recipient(customer_id)) == 0
    assert produced(events, order_id) == []


def test_a_delivery_on_its_way_is_not_cancelled(store: redis.Redis, events: redis.Redis) -> None:
    order_id, customer_id = uuid.uuid4().hex, uuid.uuid4().hex
    publish(events, PAYMENTS_STREAM, payment_captured(order_id, customer_id))
    scheduled = delivery_of(store, order_id)
    in_transit = {**scheduled, "status": "IN_TRANSIT"}
    store.set(layout.delivery(scheduled["id"]), json.dumps(in_transit))

    handled(events, ORDERS_STREAM, publish(events, ORDERS_STREAM, order_cancelled(order_id, customer_id)))

    assert layout.record(store, scheduled["id"]) == in_transit
    assert [event["type"] for event in produced(events, order_id)] == ["delivery.scheduled"]


def test_events_of_other_types_are_acknowledged_untouched(store: redis.Redis, events: redis.Redis) -> None:
    order_id, customer_id = uuid.uuid4().hex, uuid.uuid4().hex
    failed = envelope(
        "payment.failed",
        "payments",
        {
            "paymentId": uuid.uuid4().hex,
            "orderId": order_id,
            "customerId": customer_id,
            "amount": {"amount": 100, "currency": "EUR"},
            "reason": "card_declined",
        },
    )

    handled(events, PAYMENTS_STREAM, publish(events, PAYMENTS_STREAM, failed))

    assert store.get(layout.by_order(order_id)) is None
    assert store.get(layout.applied_event(failed["id"])) is None


def test_a_failing_event_stays_pending_is_retried_then_dead_lettered(
    events: redis.Redis, store: redis.Redis
) -> None:
    order_id = uuid.uuid4().hex
    # A capture without its shipping address: no retry can apply it.
    poison = {
        "id": uuid.uuid4().hex,
        "type": "payment.captured",
        "version": 1,
        "occurredAt": datetime.now(UTC).isoformat(),
        "producer": "payments",
        "traceparent": None,
        "data": {
            "paymentId": uuid.uuid4().hex,
            "orderId": order_id,
            "customerId": uuid.uuid4().hex,
            "amount": {"amount": 1, "currency": "EUR"},
            "capturedAt": datetime.now(UTC).isoformat(),
        },
    }
    entry_id = publish(events, PAYMENTS_STREAM, poison)

    def retried() -> dict[str, Any] | None:
        mine = [entry for entry in pending(events, PAYMENTS_STREAM) if entry["message_id"] == entry_id]
        return mine[0] if mine and mine[0]["times_delivered"] >= 2 else None

    # Not acknowledged, and delivered again after a backoff.
    entry = eventually(retried, what="the failing entry redelivered")
    assert store.get(layout.by_order(order_id)) is None
    assert entry_id not in dead_lettered_ids(events, PAYMENTS_STREAM)

    # As if it had failed its twentieth delivery an hour ago: the next look sets it aside.
    events.xclaim(
        PAYMENTS_STREAM,
        GROUP,
        entry["consumer"],
        min_idle_time=0,
        message_ids=[entry_id],
        idle=3_600_000,
        retrycount=MAX_DELIVERIES,
    )
    fields = dead_lettered(events, PAYMENTS_STREAM, entry_id)
    assert json.loads(fields[EVENT_FIELD]) == poison
    assert fields["attempts"] == str(MAX_DELIVERIES)
    handled(events, PAYMENTS_STREAM, entry_id)


def test_an_unreadable_entry_is_dead_lettered_at_once(events: redis.Redis) -> None:
    for fields in ({EVENT_FIELD: "{not json"}, {"something": "else"}):
        entry_id = str(events.xadd(ORDERS_STREAM, cast(Any, fields)))
        dead = dead_lettered(events, ORDERS_STREAM, entry_id)
        assert {key: dead[key] for key in fields} == fields
        assert dead["attempts"] == "1"
        handled(events, ORDERS_STREAM, entry_id)


def test_a_dead_consumers_pending_entries_are_claimed(store: redis.Redis, events: redis.Redis) -> None:
    order_id, customer_id = uuid.uuid4().hex, uuid.uuid4().hex
    wait_for_group_idle(events, PAYMENTS_STREAM)
    captured = payment_captured(order_id, customer_id)

    # Read by a consumer that died before handling it, 60 s ago (the service claims after 15 s idle).
    entry_id = hand_to_dead_consumer(
        events, PAYMENTS_STREAM, {EVENT_FIELD: json.dumps(captured)}, idle_ms=60_000
    )

    record = delivery_of(store, order_id)
    handled(events, PAYMENTS_STREAM, entry_id)
    assert record["recipientId"] == customer_id


def test_a_recently_read_entry_of_a_live_consumer_is_left_to_it(
    store: redis.Redis, events: redis.Redis
) -> None:
    order_id, customer_id = uuid.uuid4().hex, uuid.uuid4().hex
    wait_for_group_idle(events, PAYMENTS_STREAM)
    captured = payment_captured(order_id, customer_id)

    entry_id = hand_to_dead_consumer(events, PAYMENTS_STREAM, {EVENT_FIELD: json.dumps(captured)}, idle_ms=0)
    time.sleep(3)

    # Another consumer may still be handling it: not claimed within a few seconds.
    assert store.get(layout.by_order(order_id)) is None
    [entry] = [e for e in pending(events, PAYMENTS_STREAM) if e["message_id"] == entry_id]
    assert entry["consumer"] == "contract-dead-consumer"
    # Hand it over, so the session leaves nothing pending.
    events.xclaim(
        PAYMENTS_STREAM, GROUP, "contract-dead-consumer", min_idle_time=0, message_ids=[entry_id], idle=60_000
    )
    delivery_of(store, order_id)
    handled(events, PAYMENTS_STREAM, entry_id)


def dead_lettered_ids(events: redis.Redis, stream: str) -> set[str]:
    entries = cast(list[tuple[str, dict[str, str]]], events.xrange(dead_letters_of(stream)))
    return {fields["source_id"] for _, fields in entries}


def dead_lettered(events: redis.Redis, stream: str, entry_id: str) -> dict[str, str]:
    def found() -> dict[str, str] | None:
        entries = cast(list[tuple[str, dict[str, str]]], events.xrange(dead_letters_of(stream)))
        return next((fields for _, fields in entries if fields.get("source_id") == entry_id), None)

    fields = eventually(found, what=f"entry {entry_id} dead-lettered")
    assert fields["source_stream"] == stream
    assert fields["reason"]
    return fields


def test_the_outbox_sweep_publishes_what_another_process_left_and_sets_aside_what_is_no_event(
    store: redis.Redis, events: redis.Redis
) -> None:
    order_id = uuid.uuid4().hex
    left = envelope(
        "delivery.status_changed",
        "delivery",
        {"deliveryId": uuid.uuid4().hex, "orderId": order_id, "status": "IN_TRANSIT",
         "previousStatus": "SCHEDULED", "note": None, "at": datetime.now(UTC).isoformat()},
    )  # fmt: skip
    garbage = "{this is no event " + order_id
    # As a process that died after its MULTI/EXEC and before its relay ran would leave them.
    store.rpush(layout.OUTBOX, json.dumps(left), garbage)

    [published] = produced_of_type(events, order_id, "delivery.status_changed", 1)
    assert published == left
    dead_outbox = f"{DELIVERY_STREAM}.dead.outbox"

    def set_aside() -> dict[str, str] | None:
        entries = cast(list[tuple[str, dict[str, str]]], events.xrange(dead_outbox))
        return next((fields for _, fields in entries if order_id in fields.get("entry", "")), None)

    fields = eventually(set_aside, what="the entry that is no event dead-lettered")
    assert json.loads(fields["entry"]) == garbage
    assert fields["document_id"] == layout.OUTBOX
    assert fields["reason"]
    eventually(lambda: store.llen(layout.OUTBOX) == 0, what="the outbox drained")


def test_nothing_is_left_pending_or_in_the_outbox(store: redis.Redis, events: redis.Redis) -> None:
    eventually(lambda: store.llen(layout.OUTBOX) == 0, what="the outbox drained")
    for stream in (PAYMENTS_STREAM, ORDERS_STREAM):

        def drained(stream: str = stream) -> bool:
            return not pending(events, stream)

        eventually(drained, what=f"nothing pending on {stream}")
    assert events.exists(DELIVERY_STREAM)
