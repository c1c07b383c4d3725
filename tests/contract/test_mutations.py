"""`updateDeliveryStatus` and the delivery's state machine.

ADMIN only (standing in for the carrier): SCHEDULED → IN_TRANSIT or FAILED, IN_TRANSIT → DELIVERED
or FAILED. Anything else is CONFLICT (with the current status) and changes nothing; CANCELLED comes
only from `order.cancelled` (test_events.py). Each transition appends a tracking event and
publishes `delivery.status_changed`.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import redis

from contract import layout
from contract.conftest import Scheduled
from contract.queries import DELIVERY, UPDATE_STATUS, data_of, error_codes
from contract.service import Delivery
from contract.streams import eventually, produced_of_type, validate
from contract.tokens import Caller

CARRIER_MOVES = {"SCHEDULED": {"IN_TRANSIT", "FAILED"}, "IN_TRANSIT": {"DELIVERED", "FAILED"}}
PATHS_TO = {
    "SCHEDULED": [],
    "IN_TRANSIT": ["IN_TRANSIT"],
    "DELIVERED": ["IN_TRANSIT", "DELIVERED"],
    "FAILED": ["FAILED"],
}


def move(
    delivery: Delivery, admin: Caller, delivery_id: str, status: str, note: str | None = None
) -> dict[str, Any]:
    return delivery.graphql(UPDATE_STATUS, {"id": delivery_id, "status": status, "note": note}, admin)


def settled(store: redis.Redis) -> dict[str, Any]:
    """The store once the outbox relay has published everything (the outbox left out)."""
    eventually(lambda: store.llen(layout.OUTBOX) == 0, what="the outbox drained")
    return {key: value for key, value in layout.snapshot(store).items() if key != layout.OUTBOX}


def test_a_delivery_goes_in_transit_then_delivered(
    delivery: Delivery,
    scheduled: Scheduled,
    customer: Caller,
    admin: Caller,
    store: redis.Redis,
    events: redis.Redis,
) -> None:
    record = scheduled(customer)

    in_transit = data_of(move(delivery, admin, record["id"], "IN_TRANSIT", "  Picked up in Utrecht.  "))
    delivered = data_of(move(delivery, admin, record["id"], "DELIVERED"))

    after = delivered["updateDeliveryStatus"]
    assert after["status"] == "DELIVERED"
    assert [(event["status"], event["note"]) for event in after["events"]] == [
        ("SCHEDULED", f"Handed to {record['carrier']}."),
        ("IN_TRANSIT", "Picked up in Utrecht."),
        ("DELIVERED", None),
    ]
    assert after["updatedAt"] == after["events"][-1]["at"]
    assert in_transit["updateDeliveryStatus"]["updatedAt"] <= after["updatedAt"]
    # The customer reads the same.
    read = data_of(delivery.graphql(DELIVERY, {"id": record["id"]}, customer))["delivery"]
    assert (read["status"], read["events"], read["updatedAt"]) == (
        "DELIVERED",
        after["events"],
        after["updatedAt"],
    )

    changes = produced_of_type(events, record["orderId"], "delivery.status_changed", 2)
    for change in changes:
        validate(change)
        assert change["producer"] == "delivery"
    assert [(c["data"]["previousStatus"], c["data"]["status"], c["data"]["note"]) for c in changes] == [
        ("SCHEDULED", "IN_TRANSIT", "Picked up in Utrecht."),
        ("IN_TRANSIT", "DELIVERED", None),
    ]
    assert [c["data"]["at"] for c in changes] == [event["at"] for event in after["events"][1:]]
    assert all(c["data"]["deliveryId"] == record["id"] for c in changes)
    assert layout.record(store, record["id"])["status"] == "DELIVERED"


@pytest.mark.parametrize("start", sorted(PATHS_TO))
def test_every_move_the_carrier_may_not_make_is_a_conflict_that_changes_nothing(
    delivery: Delivery, scheduled: Scheduled, customer: Caller, admin: Caller, store: redis.Redis, start: str
) -> None:
    record = scheduled(customer)
    for status in PATHS_TO[start]:
        data_of(move(delivery, admin, record["id"], status))
    before = settled(store)

    for target in ("SCHEDULED", "IN_TRANSIT", "DELIVERED", "FAILED", "CANCELLED"):
        if target in CARRIER_MOVES.get(start, set()):
            continue
        body = move(delivery, admin, record["id"], target)
        assert body["data"] is None
        [error] = body["errors"]
        assert error["extensions"] == {"code": "CONFLICT", "status": start}, error
        assert error["message"] == f"A {start} delivery cannot become {target}."
        assert error["path"] == ["updateDeliveryStatus"]

    assert settled(store) == before


def test_only_an_admin_moves_a_delivery(
    delivery: Delivery, scheduled: Scheduled, customer: Caller, store: redis.Redis
) -> None:
    record = scheduled(customer)
    before = settled(store)

    as_recipient = move(delivery, customer, record["id"], "IN_TRANSIT")
    anonymous = delivery.graphql(UPDATE_STATUS, {"id": record["id"], "status": "IN_TRANSIT"})

    assert (as_recipient["data"], error_codes(as_recipient)) == (None, ["FORBIDDEN"])
    assert (anonymous["data"], error_codes(anonymous)) == (None, ["UNAUTHENTICATED"])
    assert settled(store) == before


@pytest.mark.parametrize("unknown_id", [uuid.uuid4().hex, "delivery:outbox"])
def test_moving_an_unknown_delivery_is_not_found(delivery: Delivery, admin: Caller, unknown_id: str) -> None:
    body = move(delivery, admin, unknown_id, "IN_TRANSIT")

    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"] == {"code": "NOT_FOUND"}
    assert error["message"] == f"There is no delivery '{unknown_id}'."


def test_a_note_is_trimmed_blank_is_none_and_long_is_refused(
    delivery: Delivery, scheduled: Scheduled, customer: Caller, admin: Caller, store: redis.Redis
) -> None:
    record = scheduled(customer)
    before = settled(store)

    too_long = move(delivery, admin, record["id"], "IN_TRANSIT", "x" * 501)
    assert too_long["data"] is None
    [error] = too_long["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "note"}
    assert error["message"] == "note must be at most 500 characters."
    assert settled(store) == before

    blank = data_of(move(delivery, admin, record["id"], "IN_TRANSIT", "   "))
    assert blank["updateDeliveryStatus"]["events"][-1]["note"] is None
    longest = data_of(move(delivery, admin, record["id"], "DELIVERED", "y" * 500))
    assert longest["updateDeliveryStatus"]["events"][-1]["note"] == "y" * 500
