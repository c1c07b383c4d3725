"""A parcel goes IN_TRANSIT only once orders has marked its order shipped (orders decides alone
whether an order can still be cancelled; issue #12, finding 3).

`updateDeliveryStatus(IN_TRANSIT)` first refuses what delivery refuses itself, asking nobody; then
it POSTs `shipOrder` to `ORDERS_URL` with the caller's Authorization. Orders' CONFLICT is the
caller's CONFLICT, with orders' message; no usable answer is a retryable SERVICE_UNAVAILABLE; either
way nothing changes. No other move asks orders. Orders here is the suite's stand-in
(`contract.orders`): what it records is what every implementation must send.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

import pytest
import redis

from contract import layout
from contract.conftest import Scheduled
from contract.orders import CONFLICT_MESSAGE, Answer, OrdersStandIn
from contract.queries import UPDATE_STATUS, data_of, error_codes
from contract.service import Delivery
from contract.streams import ORDERS_STREAM, TRACEPARENT, eventually, order_cancelled, produced, publish
from contract.test_mutations import PATHS_TO, move, settled
from contract.tokens import Caller

UNCONFIRMED = {
    "message": "Orders could not confirm the shipment right now; retry shortly.",
    "extensions": {"code": "SERVICE_UNAVAILABLE", "retryable": True, "retryAfterSeconds": 1},
}
W3C_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$")


@contextmanager
def nothing_changed(store: redis.Redis, events: redis.Redis, order_id: str) -> Iterator[None]:
    """Asserts that the block changes nothing in the store and publishes nothing about the order."""
    before, published = settled(store), produced(events, order_id)
    yield
    assert settled(store) == before
    assert produced(events, order_id) == published


def in_transit(delivery: Delivery, admin: Caller, record: dict[str, Any]) -> dict[str, Any]:
    moved: dict[str, Any] = data_of(move(delivery, admin, record["id"], "IN_TRANSIT"))["updateDeliveryStatus"]
    return moved


def test_delivery_asks_orders_to_ship_the_order_with_the_callers_token_and_trace(
    delivery: Delivery, scheduled: Scheduled, customer: Caller, admin: Caller, orders: OrdersStandIn
) -> None:
    record = scheduled(customer)

    response = delivery.post(
        UPDATE_STATUS,
        {"id": record["id"], "status": "IN_TRANSIT"},
        {**admin.headers, "traceparent": TRACEPARENT},
    )

    assert response.status_code == 200
    assert data_of(response.json())["updateDeliveryStatus"]["status"] == "IN_TRANSIT"
    [request] = orders.requests
    assert request.path == "/graphql"
    assert (request.content_type or "").split(";")[0].strip().lower() == "application/json"
    assert request.authorization == admin.headers["authorization"]
    # A mutation whose one root field is shipOrder(id:), the id being the delivery's order's.
    assert request.order_id == record["orderId"], request.body
    # The caller's trace goes on: its traceparent as it came, or (traced) a span of delivery's in it.
    sent = W3C_TRACEPARENT.match(request.traceparent or "")
    assert sent is not None, request.traceparent
    assert sent.group(1) == TRACEPARENT.split("-")[1]


def test_once_orders_confirms_the_move_is_made_as_before(
    delivery: Delivery,
    scheduled: Scheduled,
    customer: Caller,
    admin: Caller,
    orders: OrdersStandIn,
    store: redis.Redis,
    events: redis.Redis,
) -> None:
    record = scheduled(customer)

    moved = in_transit(delivery, admin, record)

    assert moved["status"] == "IN_TRANSIT"
    assert [event["status"] for event in moved["events"]] == ["SCHEDULED", "IN_TRANSIT"]
    assert layout.record(store, record["id"])["status"] == "IN_TRANSIT"
    change = eventually(
        lambda: [e for e in produced(events, record["orderId"]) if e["type"] == "delivery.status_changed"],
        what="delivery.status_changed",
    )
    assert [(e["data"]["previousStatus"], e["data"]["status"]) for e in change] == [
        ("SCHEDULED", "IN_TRANSIT")
    ]
    assert [request.order_id for request in orders.requests] == [record["orderId"]]


def test_orders_refusing_the_shipment_is_a_conflict_with_its_message_and_changes_nothing(
    delivery: Delivery,
    scheduled: Scheduled,
    customer: Caller,
    admin: Caller,
    orders: OrdersStandIn,
    store: redis.Redis,
    events: redis.Redis,
) -> None:
    record = scheduled(customer)
    orders.answer(record["orderId"], Answer.CONFLICT)

    with nothing_changed(store, events, record["orderId"]):
        body = move(delivery, admin, record["id"], "IN_TRANSIT", "Picked up.")
        assert body["data"] is None
        [error] = body["errors"]
        assert (error["message"], error["extensions"]) == (CONFLICT_MESSAGE, {"code": "CONFLICT"})
        assert error["path"] == ["updateDeliveryStatus"]

    assert layout.record(store, record["id"])["status"] == "SCHEDULED"
    assert len(orders.requests) == 1
    # The carrier may still report it failed: that asks nobody.
    assert (
        data_of(move(delivery, admin, record["id"], "FAILED"))["updateDeliveryStatus"]["status"] == "FAILED"
    )
    assert len(orders.requests) == 1


ORDERS_DOWN = "orders unreachable"


@pytest.mark.parametrize(
    "failure",
    [
        Answer.SERVER_ERROR,
        Answer.OTHER_ERROR,
        Answer.NOT_SHIPPED,
        Answer.NOT_JSON,
        Answer.TOO_SLOW,
        ORDERS_DOWN,
    ],
    ids=lambda failure: failure.name.lower() if isinstance(failure, Answer) else failure.replace(" ", "_"),
)
def test_no_answer_from_orders_is_retryable_service_unavailable_and_changes_nothing(
    delivery: Delivery,
    scheduled: Scheduled,
    customer: Caller,
    admin: Caller,
    orders: OrdersStandIn,
    store: redis.Redis,
    events: redis.Redis,
    failure: Answer | str,
) -> None:
    record = scheduled(customer)
    outage: AbstractContextManager[None] = orders.away() if failure == ORDERS_DOWN else nullcontext()
    if isinstance(failure, Answer):
        orders.answer(record["orderId"], failure)

    with nothing_changed(store, events, record["orderId"]):
        with outage:
            body = move(delivery, admin, record["id"], "IN_TRANSIT")
        assert body["data"] is None
        [error] = body["errors"]
        assert {"message": error["message"], "extensions": error["extensions"]} == UNCONFIRMED
        assert error["path"] == ["updateDeliveryStatus"]

    assert len(orders.requests) == (0 if failure == ORDERS_DOWN else 1)
    # Retryable indeed: once orders answers, the same request goes through.
    orders.answer(record["orderId"], Answer.CONFIRM)
    assert in_transit(delivery, admin, record)["status"] == "IN_TRANSIT"


def test_no_other_move_asks_orders(
    delivery: Delivery, scheduled: Scheduled, customer: Caller, admin: Caller, orders: OrdersStandIn
) -> None:
    failed, delivered, lost = scheduled(customer), scheduled(customer), scheduled(customer)

    data_of(move(delivery, admin, failed["id"], "FAILED"))
    for record, last in ((delivered, "DELIVERED"), (lost, "FAILED")):
        in_transit(delivery, admin, record)
        data_of(move(delivery, admin, record["id"], last))

    assert [request.order_id for request in orders.requests] == [delivered["orderId"], lost["orderId"]]


@pytest.mark.parametrize("start", ["IN_TRANSIT", "DELIVERED", "FAILED", "CANCELLED"])
def test_a_move_delivery_refuses_itself_does_not_ask_orders(
    delivery: Delivery,
    scheduled: Scheduled,
    customer: Caller,
    admin: Caller,
    orders: OrdersStandIn,
    store: redis.Redis,
    events: redis.Redis,
    start: str,
) -> None:
    record = scheduled(customer)
    if start == "CANCELLED":
        publish(events, ORDERS_STREAM, order_cancelled(record["orderId"], customer.user_id))
        eventually(lambda: layout.record(store, record["id"])["status"] == "CANCELLED", what="cancelled")
    for status in PATHS_TO.get(start, []):
        data_of(move(delivery, admin, record["id"], status))
    orders.reset()

    body = move(delivery, admin, record["id"], "IN_TRANSIT")

    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"] == {"code": "CONFLICT", "status": start}
    assert error["message"] == f"A {start} delivery cannot become IN_TRANSIT."
    assert orders.requests == []


def test_callers_and_input_delivery_refuses_do_not_ask_orders(
    delivery: Delivery, scheduled: Scheduled, customer: Caller, admin: Caller, orders: OrdersStandIn
) -> None:
    record = scheduled(customer)
    shipping = {"id": record["id"], "status": "IN_TRANSIT"}

    anonymous = delivery.graphql(UPDATE_STATUS, shipping)
    forged = delivery.post(UPDATE_STATUS, shipping, {"authorization": "Bearer not-a-token"}).json()
    recipient = delivery.graphql(UPDATE_STATUS, shipping, customer)
    long_note = move(delivery, admin, record["id"], "IN_TRANSIT", "x" * 501)
    unknown = move(delivery, admin, uuid.uuid4().hex, "IN_TRANSIT")
    not_a_delivery = move(delivery, admin, layout.OUTBOX, "IN_TRANSIT")

    assert [
        error_codes(body) for body in (anonymous, forged, recipient, long_note, unknown, not_a_delivery)
    ] == [
        ["UNAUTHENTICATED"],
        ["UNAUTHENTICATED"],
        ["FORBIDDEN"],
        ["BAD_USER_INPUT"],
        ["NOT_FOUND"],
        ["NOT_FOUND"],
    ]
    assert orders.requests == []
