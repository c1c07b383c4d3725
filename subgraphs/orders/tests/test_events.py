"""Events: what orders publishes (against its JSON Schemas), and what it makes of
payments and delivery events, fed through real Redis streams."""

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from conftest import GraphQL, Tokens, eventually, place_order
from jsonschema import Draft202012Validator
from pymongo.asynchronous.database import AsyncDatabase
from redis.asyncio import Redis

from orders.events import OrderEventHandler, UnknownOrder
from orders.rules import NotYetApplicable
from orders.store import OrderStore
from shopkit.events.envelope import Event, stream_for
from shopkit.events.streams import publish, read_events
from shopkit.mongo import Document, MongoDB

SCHEMAS = Path(__file__).resolve().parents[3] / "events" / "schemas"
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
CANCEL = "mutation($id: ID!) { cancelOrder(id: $id) { status } }"
ORDER = "query($id: ID!) { order(id: $id) { status updatedAt history { status event } } }"


def validator(event_type: str) -> Draft202012Validator:
    schema = json.loads((SCHEMAS / f"{event_type}.v1.json").read_text())
    Draft202012Validator.check_schema(schema)
    assert schema["$id"] == f"https://shopgraph.dev/events/{event_type}.v1.json"
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def payment_event(event_type: str, order: dict[str, Any], customer_id: str) -> Event:
    data: dict[str, Any] = {
        "paymentId": uuid.uuid4().hex,
        "orderId": order["id"],
        "customerId": customer_id,
        "amount": order["total"],
    }
    if event_type == "payment.captured":
        data |= {"shippingAddress": order["shippingAddress"], "capturedAt": "2026-01-01T00:00:00+00:00"}
    elif event_type == "payment.failed":
        data |= {"reason": "card_declined"}
    return Event(type=event_type, data=data, producer="payments")


def delivery_event(order_id: str, status: str, previous: str = "SCHEDULED") -> Event:
    data = {
        "deliveryId": uuid.uuid4().hex,
        "orderId": order_id,
        "status": status,
        "previousStatus": previous,
        "note": None,
        "at": "2026-01-02T00:00:00+00:00",
    }
    return Event(type="delivery.status_changed", data=data, producer="delivery")


async def stored(db: AsyncDatabase[Document], order_id: str) -> Document:
    order = await db["orders"].find_one({"_id": order_id})
    assert order is not None
    return order


# -- produced events --------------------------------------------------------------


async def test_published_events_match_their_schemas_and_carry_the_trace(
    gql: GraphQL, tokens: Tokens, events_redis: Redis, db: AsyncDatabase[Document]
) -> None:
    customer = uuid.uuid4().hex
    token = tokens.customer(customer)
    variables = {
        "input": {
            "items": [{"sku": "MON-27-QHD", "quantity": 2}, {"sku": "CBL-USBC-2M", "quantity": 1}],
            "shippingAddress": {
                "line1": "10 Downing St",
                "line2": "Flat 2",
                "city": "London",
                "postalCode": "SW1A 2AA",
                "country": "gb",
            },
        }
    }
    placed = await gql(
        "mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { id number createdAt } }",
        variables,
        token=token,
        headers={"traceparent": TRACEPARENT},
    )
    order = placed["data"]["placeOrder"]
    await gql(CANCEL, {"id": order["id"]}, token=token)

    stream = stream_for("orders")

    async def both_published() -> bool:
        return len(await read_events(events_redis, stream)) == 2

    await eventually(both_published, "order.placed and order.cancelled on the orders stream")
    placed_event, cancelled_event = await read_events(events_redis, stream)

    for event in (placed_event, cancelled_event):
        validator(event.type).validate(event.data)
        assert event.producer == "orders"
        assert event.version == 1
    assert placed_event.type == "order.placed"
    assert placed_event.traceparent == TRACEPARENT
    assert placed_event.data == {
        "orderId": order["id"],
        "number": order["number"],
        "customerId": customer,
        "customerSequence": 1,  # the customer's first order
        "items": [
            {
                "sku": "MON-27-QHD",
                "name": '27" QHD IPS Monitor',
                "quantity": 2,
                "unitPrice": {"amount": 27900, "currency": "USD"},
            },
            {
                "sku": "CBL-USBC-2M",
                "name": "USB-C to USB-C Cable, 2 m",
                "quantity": 1,
                "unitPrice": {"amount": 1299, "currency": "USD"},
            },
        ],
        "total": {"amount": 2 * 27900 + 1299, "currency": "USD"},
        "shippingAddress": {
            "line1": "10 Downing St",
            "line2": "Flat 2",
            "city": "London",
            "postalCode": "SW1A 2AA",
            "country": "GB",
        },
        "placedAt": placed_event.data["placedAt"],
    }
    assert cancelled_event.type == "order.cancelled"
    assert cancelled_event.data["orderId"] == order["id"]
    assert cancelled_event.data["customerId"] == customer

    # The relay removes what it published while it goes on: soon after, not before the XADD.
    async def outbox_emptied() -> bool:
        outbox: list[object] = (await stored(db, order["id"]))["outbox"]
        return outbox == []

    await eventually(outbox_emptied, "the order's outbox emptied")


def test_schemas_refuse_what_they_should() -> None:
    placed = validator("order.placed")
    good_item = {"sku": "A", "name": "A", "quantity": 1, "unitPrice": {"amount": 100, "currency": "USD"}}
    good = {
        "orderId": uuid.uuid4().hex,
        "number": "SG-000001",
        "customerId": "c",
        "items": [good_item],
        "total": {"amount": 100, "currency": "USD"},
        "shippingAddress": {"line1": "a", "line2": None, "city": "b", "postalCode": "1", "country": "US"},
        "placedAt": "2026-01-01T00:00:00+00:00",
    }
    placed.validate(good)
    placed.validate({**good, "customerSequence": 1})  # optional: older events lack it
    assert not placed.is_valid({**good, "customerSequence": 0})
    assert not placed.is_valid({**good, "extra": 1})
    assert not placed.is_valid({**good, "items": []})
    assert not placed.is_valid({**good, "total": {"amount": 1.5, "currency": "USD"}})
    assert not placed.is_valid({**good, "items": [{**good_item, "quantity": 0}]})
    assert not placed.is_valid({**good, "placedAt": "yesterday"})
    cancelled = validator("order.cancelled")
    assert not cancelled.is_valid({"orderId": uuid.uuid4().hex, "customerId": "c"})


# -- consumed events, through the streams ------------------------------------------


async def test_payment_event_is_applied_exactly_once(
    gql: GraphQL, tokens: Tokens, events_redis: Redis, db: AsyncDatabase[Document]
) -> None:
    customer = uuid.uuid4().hex
    token = tokens.customer(customer)
    order = await place_order(gql, token)
    captured = payment_event("payment.captured", order, customer)
    late_failure = payment_event("payment.failed", order, customer)
    payments = stream_for("payments")

    await publish(events_redis, payments, captured)
    await publish(events_redis, payments, captured)  # e.g. an outbox relay republishing
    await publish(events_redis, payments, late_failure)

    async def all_handled() -> bool:
        return late_failure.id in (await stored(db, order["id"]))["appliedEvents"]

    await eventually(all_handled, "the consumer handled the three entries")
    document = await stored(db, order["id"])
    assert document["status"] == "PAID"
    assert document["appliedEvents"] == [captured.id, late_failure.id]
    # The late failure is recorded as applied, but a paid order is never downgraded.
    assert [(entry["status"], entry.get("eventId")) for entry in document["history"]] == [
        ("PENDING_PAYMENT", None),
        ("PAID", captured.id),
    ]
    seen = (await gql(ORDER, {"id": order["id"]}, token=token))["data"]["order"]
    assert seen["status"] == "PAID"
    assert seen["updatedAt"] > order["updatedAt"]
    assert seen["history"] == [
        {"status": "PENDING_PAYMENT", "event": "order.placed"},
        {"status": "PAID", "event": "payment.captured"},
    ]


async def test_delivery_update_before_payment_is_retried_until_it_applies(
    gql: GraphQL, tokens: Tokens, events_redis: Redis, db: AsyncDatabase[Document]
) -> None:
    customer = uuid.uuid4().hex
    order = await place_order(gql, tokens.customer(customer))
    delivery_stream = stream_for("delivery")
    in_transit = delivery_event(order["id"], "IN_TRANSIT")

    await publish(events_redis, delivery_stream, in_transit)

    async def failed_once() -> bool:
        pending: dict[str, Any] = await events_redis.xpending(delivery_stream, "orders")
        return int(pending["pending"]) == 1

    await eventually(failed_once, "the early IN_TRANSIT is pending after a failed attempt")
    assert (await stored(db, order["id"]))["status"] == "PENDING_PAYMENT"

    await publish(events_redis, stream_for("payments"), payment_event("payment.captured", order, customer))

    async def shipped() -> bool:
        return bool((await stored(db, order["id"]))["status"] == "SHIPPED")

    await eventually(shipped, "the retried IN_TRANSIT moved the paid order to SHIPPED")
    assert [entry["status"] for entry in (await stored(db, order["id"]))["history"]] == [
        "PENDING_PAYMENT",
        "PAID",
        "SHIPPED",
    ]


# -- consumed events, handler by handler --------------------------------------------


@pytest.fixture
async def handler(
    quiet_gql: GraphQL, mongodb_uri: str, database_name: str
) -> AsyncIterator[OrderEventHandler]:
    """The consumer's handler on the app's database; the app runs no relay or consumer
    of its own, so this handler is the only writer."""
    mongodb = MongoDB(mongodb_uri, database_name, service="orders")
    yield OrderEventHandler(OrderStore(mongodb))
    await mongodb.close()


async def test_full_lifecycle_and_no_moves_backwards(
    quiet_gql: GraphQL, tokens: Tokens, handler: OrderEventHandler, db: AsyncDatabase[Document]
) -> None:
    customer = uuid.uuid4().hex
    order = await place_order(quiet_gql, tokens.customer(customer))

    steps = [
        (payment_event("payment.failed", order, customer), "PAYMENT_FAILED"),
        (payment_event("payment.captured", order, customer), "PAID"),
        (Event(type="delivery.scheduled", data={"orderId": order["id"]}, producer="delivery"), "PAID"),
        (delivery_event(order["id"], "IN_TRANSIT"), "SHIPPED"),
        (delivery_event(order["id"], "DELIVERED", previous="IN_TRANSIT"), "DELIVERED"),
        (delivery_event(order["id"], "IN_TRANSIT"), "DELIVERED"),
        (payment_event("payment.failed", order, customer), "DELIVERED"),
    ]
    for event, expected in steps:
        await handler(event)
        assert (await stored(db, order["id"]))["status"] == expected, event.type

    document = await stored(db, order["id"])
    assert document["appliedEvents"] == [event.id for event, _ in steps]
    assert [entry["status"] for entry in document["history"]] == [
        "PENDING_PAYMENT",
        "PAYMENT_FAILED",
        "PAID",
        "SHIPPED",
        "DELIVERED",
    ]


async def test_capture_after_cancel_leaves_the_order_cancelled(
    quiet_gql: GraphQL, tokens: Tokens, handler: OrderEventHandler, db: AsyncDatabase[Document]
) -> None:
    customer = uuid.uuid4().hex
    token = tokens.customer(customer)
    order = await place_order(quiet_gql, token)
    await quiet_gql(CANCEL, {"id": order["id"]}, token=token)

    await handler(payment_event("payment.captured", order, customer))
    await handler(payment_event("payment.refunded", order, customer))

    document = await stored(db, order["id"])
    assert document["status"] == "CANCELLED"
    assert [entry["event"] for entry in document["history"]] == ["order.placed", "order.cancelled"]
    assert len(document["appliedEvents"]) == 2


async def test_early_delivery_update_raises_and_changes_nothing(
    quiet_gql: GraphQL, tokens: Tokens, handler: OrderEventHandler, db: AsyncDatabase[Document]
) -> None:
    order = await place_order(quiet_gql, tokens.customer(uuid.uuid4().hex))
    before = await stored(db, order["id"])
    with pytest.raises(NotYetApplicable):
        await handler(delivery_event(order["id"], "DELIVERED"))
    assert await stored(db, order["id"]) == before


async def test_event_for_an_unknown_order_raises(handler: OrderEventHandler) -> None:
    with pytest.raises(UnknownOrder):
        await handler(delivery_event(uuid.uuid4().hex, "IN_TRANSIT"))


async def test_same_event_twice_is_one_history_entry(
    quiet_gql: GraphQL, tokens: Tokens, handler: OrderEventHandler, db: AsyncDatabase[Document]
) -> None:
    customer = uuid.uuid4().hex
    order = await place_order(quiet_gql, tokens.customer(customer))
    captured = payment_event("payment.captured", order, customer)
    await handler(captured)
    first = await stored(db, order["id"])
    await handler(captured)
    assert await stored(db, order["id"]) == first
    assert [entry.get("eventId") for entry in first["history"]].count(captured.id) == 1
