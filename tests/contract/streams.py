"""The event side of the contract: envelopes the suite sends, and reading what the service produced.

Streams, groups and envelopes are those of docs/events.md: each service
publishes `{id, type, version, occurredAt, producer, traceparent, data}` as
the `event` field of an entry on `shopgraph.events.<producer>`; delivery
consumes `shopgraph.events.payments` and `shopgraph.events.orders` in the
group `delivery` and dead-letters to `<stream>.dead.delivery`.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from typing import Any, TypeVar, cast

import jsonschema
import redis

from contract.processes import REPO

PAYMENTS_STREAM = "shopgraph.events.payments"
ORDERS_STREAM = "shopgraph.events.orders"
DELIVERY_STREAM = "shopgraph.events.delivery"
GROUP = "delivery"
EVENT_FIELD = "event"
SCHEMAS = REPO / "events" / "schemas"
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
ADDRESS: dict[str, str | None] = {
    "line1": "Keizersgracht 1",
    "line2": None,
    "city": "Amsterdam",
    "postalCode": "1015 CJ",
    "country": "NL",
}

T = TypeVar("T")


def dead_letters_of(stream: str) -> str:
    return f"{stream}.dead.{GROUP}"


@cache
def _validator(name: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((SCHEMAS / name).read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def validate(envelope: dict[str, Any]) -> None:
    """The envelope and its data against events/schemas/ (both the suite's events and the service's)."""
    _validator("envelope.v1.json").validate(envelope)
    _validator(f"{envelope['type']}.v{envelope['version']}.json").validate(envelope["data"])


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


def envelope(
    event_type: str, producer: str, data: dict[str, Any], *, event_id: str | None = None
) -> dict[str, Any]:
    event = {
        "id": event_id or uuid.uuid4().hex,
        "type": event_type,
        "version": 1,
        "occurredAt": now_iso(),
        "producer": producer,
        "traceparent": TRACEPARENT,
        "data": data,
    }
    validate(event)
    return event


def payment_captured(
    order_id: str,
    customer_id: str,
    *,
    event_id: str | None = None,
    address: dict[str, str | None] | None = None,
) -> dict[str, Any]:
    return envelope(
        "payment.captured",
        "payments",
        {
            "paymentId": uuid.uuid4().hex,
            "orderId": order_id,
            "customerId": customer_id,
            "amount": {"amount": 4200, "currency": "EUR"},
            "shippingAddress": address or ADDRESS,
            "capturedAt": now_iso(),
        },
        event_id=event_id,
    )


def order_cancelled(order_id: str, customer_id: str, *, event_id: str | None = None) -> dict[str, Any]:
    return envelope(
        "order.cancelled",
        "orders",
        {"orderId": order_id, "customerId": customer_id, "cancelledAt": now_iso()},
        event_id=event_id,
    )


def publish(events: redis.Redis, stream: str, event: dict[str, Any]) -> str:
    return str(events.xadd(stream, {EVENT_FIELD: json.dumps(event)}))


def produced(events: redis.Redis, order_id: str) -> list[dict[str, Any]]:
    """The envelopes delivery published about one order, oldest first."""
    entries = cast(list[tuple[str, dict[str, str]]], events.xrange(DELIVERY_STREAM))
    envelopes = [json.loads(fields[EVENT_FIELD]) for _, fields in entries]
    return [event for event in envelopes if event["data"].get("orderId") == order_id]


def produced_of_type(events: redis.Redis, order_id: str, event_type: str, count: int) -> list[dict[str, Any]]:
    """Waits until delivery has published `count` events of the type about the order; returns them."""

    def found() -> list[dict[str, Any]]:
        matching = [event for event in produced(events, order_id) if event["type"] == event_type]
        return matching if len(matching) >= count else []

    return eventually(found, what=f"{count} {event_type} for order {order_id}")


def pending(events: redis.Redis, stream: str) -> list[dict[str, Any]]:
    """The group's entries of `stream` delivered and not acknowledged."""
    return cast(list[dict[str, Any]], events.xpending_range(stream, GROUP, min="-", max="+", count=1000))


def eventually(check: Callable[[], T | None], *, timeout: float = 15.0, what: str = "the condition") -> T:
    """Polls until `check` returns something truthy: the service consumes and relays asynchronously."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not hold within {timeout:.0f}s (last: {result!r})")
        time.sleep(0.05)


def consumed(events: redis.Redis, stream: str, entry_id: str) -> bool:
    """The group has read past `entry_id` and holds it pending no more (handled and acknowledged)."""
    groups: list[dict[str, Any]] = events.xinfo_groups(stream)
    group = next((g for g in groups if g["name"] == GROUP), None)
    if group is None:
        return False
    delivered = _entry_key(str(group["last-delivered-id"])) >= _entry_key(entry_id)
    return delivered and all(entry["message_id"] != entry_id for entry in pending(events, stream))


def hand_to_dead_consumer(
    events: redis.Redis, stream: str, fields: dict[str, str], *, idle_ms: int, deliveries: int = 1
) -> str:
    """Adds an entry and has it read by a consumer that then "dies": it stays pending on that
    consumer, idle for `idle_ms`, delivered `deliveries` times. Returns the entry id.

    XADD and XREADGROUP run in one MULTI, so the service's blocked read cannot take the entry
    first; the group must have read everything before it (`wait_for_group_idle`).
    """
    with events.pipeline(transaction=True) as pipe:
        pipe.xadd(stream, cast(Any, fields))
        pipe.xreadgroup(GROUP, "contract-dead-consumer", {stream: ">"}, count=1)
        entry_id, reply = pipe.execute()
    [[_, [(read_id, _)]]] = reply
    assert read_id == entry_id, (read_id, entry_id)
    events.xclaim(
        stream,
        GROUP,
        "contract-dead-consumer",
        min_idle_time=0,
        message_ids=[entry_id],
        idle=idle_ms,
        retrycount=deliveries,
    )
    return str(entry_id)


def wait_for_group_idle(events: redis.Redis, stream: str) -> None:
    """Until the group has read every entry of the stream (so the next one is the next it reads)."""

    def caught_up() -> bool:
        info: dict[str, Any] = events.xinfo_stream(stream)
        last = str(info["last-generated-id"])
        groups: list[dict[str, Any]] = events.xinfo_groups(stream)
        return any(g["name"] == GROUP and str(g["last-delivered-id"]) == last for g in groups)

    eventually(caught_up, what=f"the group {GROUP} reading all of {stream}")


def _entry_key(entry_id: str) -> tuple[int, int]:
    millis, _, sequence = entry_id.partition("-")
    return int(millis), int(sequence or 0)
