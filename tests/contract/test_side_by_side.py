"""Side by side: the Python and the TypeScript delivery on one Redis, as competing consumers of
one group during a switch. Every paid order gets exactly one delivery and one `delivery.scheduled`
(by event id) whichever process took its events, and each serves the deliveries the other
wrote, byte for byte.

This module always runs both known implementations, whatever CONTRACT_DELIVERY_IMPLEMENTATIONS
selects: it is about the pair.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
import redis

from contract import layout
from contract.conftest import LOG_ROOT
from contract.implementations import KNOWN
from contract.orders import serving_orders
from contract.processes import running_redis
from contract.queries import DELIVERY, USER_ENTITY, data_of, representation
from contract.service import Delivery, running_delivery
from contract.streams import (
    GROUP,
    ORDERS_STREAM,
    PAYMENTS_STREAM,
    eventually,
    order_cancelled,
    payment_captured,
    pending,
    produced,
    publish,
)
from contract.tokens import Issuer

ORDERS = 60


@pytest.fixture(scope="module")
def pair(jwks_url: str) -> Iterator[tuple[Delivery, Delivery]]:
    log_dir = LOG_ROOT / "side-by-side"
    log_dir.mkdir(parents=True, exist_ok=True)
    with (
        running_redis(log_dir) as server,
        serving_orders() as orders,
        running_delivery(KNOWN["python"], server, jwks_url, orders.url, log_dir) as python,
        running_delivery(KNOWN["ts"], server, jwks_url, orders.url, log_dir) as typescript,
    ):
        yield python, typescript


def test_competing_consumers_give_every_order_exactly_one_delivery(
    pair: tuple[Delivery, Delivery], issuer: Issuer
) -> None:
    python, _ = pair
    store, events = python.store(), python.events()
    customers = [issuer.caller() for _ in range(4)]
    orders = [(uuid.uuid4().hex, customers[index % len(customers)]) for index in range(ORDERS)]
    cancelled = {order_id for order_id, _ in orders[::5]}

    for order_id, customer in orders:
        captured = payment_captured(order_id, customer.user_id)
        publish(events, PAYMENTS_STREAM, captured)
        publish(events, PAYMENTS_STREAM, captured)  # a relay republishing
        if order_id in cancelled:
            publish(events, ORDERS_STREAM, order_cancelled(order_id, customer.user_id))

    for stream in (PAYMENTS_STREAM, ORDERS_STREAM):

        def handled(stream: str = stream) -> bool:
            return _all_handled(events, stream)

        eventually(handled, what=f"{stream} handled", timeout=60)
    eventually(lambda: store.llen(layout.OUTBOX) == 0, what="the outbox drained")

    deliveries_of: dict[str, int] = {customer.user_id: 0 for customer in customers}
    for order_id, customer in orders:
        record = layout.record_for_order(store, order_id)
        scheduled = {
            event["id"] for event in produced(events, order_id) if event["type"] == "delivery.scheduled"
        }
        if order_id in cancelled and record is None:
            # The two streams are consumed independently: the cancellation came first and left
            # its tombstone, so the capture made no delivery.
            assert store.get(layout.cancelled_order(order_id)) is not None
            assert scheduled == set()
            continue
        assert record is not None, order_id
        assert record["recipientId"] == customer.user_id
        assert record["status"] == ("CANCELLED" if order_id in cancelled else "SCHEDULED")
        # Both relays drain the one outbox, so an event may be published twice, with one id,
        # which consumers deduplicate on (docs/events.md): one delivery, one event.
        assert len(scheduled) == 1, (order_id, produced(events, order_id))
        deliveries_of[customer.user_id] += 1
    for customer in customers:
        assert store.zcard(layout.by_recipient(customer.user_id)) == deliveries_of[customer.user_id]
    consumers: list[dict[str, Any]] = events.xinfo_consumers(PAYMENTS_STREAM, GROUP)
    assert len(consumers) >= 2, consumers


def test_each_serves_what_the_other_wrote(pair: tuple[Delivery, Delivery], issuer: Issuer) -> None:
    python, typescript = pair
    store, events = python.store(), python.events()
    customer = issuer.caller()
    order_ids = [uuid.uuid4().hex for _ in range(6)]
    for order_id in order_ids:
        publish(events, PAYMENTS_STREAM, payment_captured(order_id, customer.user_id))
    records = [_delivery_of(store, order_id) for order_id in order_ids]
    admin = issuer.caller("ADMIN")
    mover = (python, typescript)
    for index, record in enumerate(records[:4]):
        moved = mover[index % 2].graphql(
            "mutation($id: ID!) { updateDeliveryStatus(id: $id, status: IN_TRANSIT) { id } }",
            {"id": record["id"]},
            admin,
        )
        data_of(moved)

    for record in records:
        variables = {"id": record["id"]}
        assert python.graphql(DELIVERY, variables, customer) == typescript.graphql(
            DELIVERY, variables, customer
        )
    listing = {"representations": [representation("User", customer.user_id)]}
    from_python = data_of(python.graphql(USER_ENTITY, listing, customer))
    assert from_python == data_of(typescript.graphql(USER_ENTITY, listing, customer))
    # Newest first by creation time (the two consumers created them in no particular order).
    newest_first = sorted(
        records, key=lambda record: (datetime.fromisoformat(record["createdAt"]), record["id"]), reverse=True
    )
    assert [d["id"] for d in from_python["_entities"][0]["deliveries"]] == [r["id"] for r in newest_first]


def _delivery_of(store: redis.Redis, order_id: str) -> dict[str, Any]:
    return eventually(lambda: layout.record_for_order(store, order_id), what=f"a delivery for {order_id}")


def _all_handled(events: redis.Redis, stream: str) -> bool:
    info: dict[str, Any] = events.xinfo_stream(stream)
    groups: list[dict[str, Any]] = events.xinfo_groups(stream)
    group = next((g for g in groups if g["name"] == GROUP), None)
    caught_up = group is not None and str(group["last-delivered-id"]) == str(info["last-generated-id"])
    return caught_up and not pending(events, stream)
