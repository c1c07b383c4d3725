"""The same data: deliveries another implementation stored in the documented layout (contract.layout)
are read, listed and moved exactly as they were written, so implementations replace each other on
one Redis with no migration. (What an implementation writes is checked in test_events.py.)"""

from __future__ import annotations

import uuid
from typing import Any

import redis

from contract import layout
from contract.queries import DELIVERY, TRACK, UPDATE_STATUS, USER_ENTITY, data_of, representation
from contract.service import Delivery
from contract.tokens import Caller

ADDRESS = {
    "line1": "Hauptstraße 5",
    "line2": "3. OG",
    "city": "Berlin",
    "postalCode": "10115",
    "country": "DE",
}


def stored_delivery(
    recipient_id: str, created_at: str, *, status: str = "IN_TRANSIT"
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    doc: dict[str, Any] = {
        "id": uuid.uuid4().hex,
        "orderId": uuid.uuid4().hex,
        "recipientId": recipient_id,
        "status": status,
        "carrier": "DPD",
        "trackingNumber": "SG" + uuid.uuid4().hex[:16].upper().translate(str.maketrans("0189", "2345")),
        "address": ADDRESS,
        "estimatedDelivery": "2026-12-03T18:00:00+00:00",
        "createdAt": created_at,
        "updatedAt": "2026-11-30T09:15:02.123456+00:00",
    }
    tracking: list[dict[str, Any]] = [
        {"status": "SCHEDULED", "at": created_at, "note": "Handed to DPD."},
        {"status": "IN_TRANSIT", "at": "2026-11-30T09:15:02.123456+00:00", "note": None},
    ]
    return doc, tracking


def test_a_stored_delivery_reads_exactly_as_written(
    delivery: Delivery, store: redis.Redis, customer: Caller
) -> None:
    doc, tracking = stored_delivery(customer.user_id, "2026-11-29T16:00:00+00:00")
    layout.write(store, doc, tracking)

    read = data_of(delivery.graphql(DELIVERY, {"id": doc["id"]}, customer))["delivery"]
    tracked = data_of(
        delivery.graphql(TRACK % "id status events { status at note }", {"number": doc["trackingNumber"]})
    )

    assert read == {
        "id": doc["id"],
        "status": "IN_TRANSIT",
        "carrier": "DPD",
        "trackingNumber": doc["trackingNumber"],
        "estimatedDelivery": "2026-12-03T18:00:00+00:00",
        "updatedAt": "2026-11-30T09:15:02.123456+00:00",
        "order": {"id": doc["orderId"]},
        "recipient": {"id": customer.user_id},
        "address": ADDRESS,
        "events": tracking,
    }
    assert tracked["trackDelivery"] == {"id": doc["id"], "status": "IN_TRANSIT", "events": tracking}


def test_a_users_stored_deliveries_are_listed_newest_first(
    delivery: Delivery, store: redis.Redis, customer: Caller
) -> None:
    older, _ = stored_delivery(customer.user_id, "2026-11-01T08:00:00.000001+00:00")
    newer, _ = stored_delivery(customer.user_id, "2026-11-20T08:00:00+00:00")
    middle, _ = stored_delivery(customer.user_id, "2026-11-10T08:00:00.5+00:00")
    for doc in (newer, older, middle):
        layout.write(store, doc, [])

    body = delivery.graphql(
        USER_ENTITY, {"representations": [representation("User", customer.user_id)]}, customer
    )

    listed = [entry["id"] for entry in data_of(body)["_entities"][0]["deliveries"]]
    assert listed == [newer["id"], middle["id"], older["id"]]


def test_a_stored_delivery_moves_on_keeping_everything_else(
    delivery: Delivery, store: redis.Redis, customer: Caller, admin: Caller
) -> None:
    doc, tracking = stored_delivery(customer.user_id, "2026-11-29T16:00:00.250000+00:00")
    layout.write(store, doc, tracking)

    moved = data_of(
        delivery.graphql(
            UPDATE_STATUS, {"id": doc["id"], "status": "DELIVERED", "note": "At the door."}, admin
        )
    )

    after = layout.record(store, doc["id"])
    at = moved["updateDeliveryStatus"]["updatedAt"]
    assert after == {**doc, "status": "DELIVERED", "updatedAt": at}
    assert layout.entries(store, doc["id"]) == [
        *tracking,
        {"status": "DELIVERED", "at": at, "note": "At the door."},
    ]
