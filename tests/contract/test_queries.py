"""Behaviour and auth of what delivery owns, read directly: `delivery`, `trackDelivery`, and the
entities `Delivery`, `Order.delivery` and `User.deliveries` through `_entities` (as a router asks).

A customer sees only their own deliveries (FORBIDDEN otherwise), an ADMIN sees all, and no token
is UNAUTHENTICATED, in root queries and `_entities` alike; `trackDelivery` needs no token but the
recipient's personal data (`recipient`, `address`) still does.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from contract.conftest import Scheduled
from contract.queries import (
    DELIVERY,
    DELIVERY_ENTITY,
    ORDER_ENTITY,
    TRACK,
    USER_ENTITY,
    data_of,
    error_codes,
    representation,
)
from contract.service import Delivery
from contract.streams import ADDRESS
from contract.tokens import Caller


def expected_view(record: dict[str, Any], recipient: Caller) -> dict[str, Any]:
    return {
        "id": record["id"],
        "status": "SCHEDULED",
        "carrier": record["carrier"],
        "trackingNumber": record["trackingNumber"],
        "estimatedDelivery": record["estimatedDelivery"],
        "updatedAt": record["updatedAt"],
        "order": {"id": record["orderId"]},
        "recipient": {"id": recipient.user_id},
        "address": ADDRESS,
        "events": [
            {"status": "SCHEDULED", "at": record["createdAt"], "note": f"Handed to {record['carrier']}."}
        ],
    }


def test_recipient_reads_their_delivery(delivery: Delivery, scheduled: Scheduled, customer: Caller) -> None:
    record = scheduled(customer)

    body = delivery.graphql(DELIVERY, {"id": record["id"]}, customer)

    assert data_of(body)["delivery"] == expected_view(record, customer)


def test_delivery_by_id_is_for_its_recipient_or_an_admin(
    delivery: Delivery, scheduled: Scheduled, customer: Caller, other_customer: Caller, admin: Caller
) -> None:
    record = scheduled(customer)
    variables = {"id": record["id"]}

    assert data_of(delivery.graphql(DELIVERY, variables, admin))["delivery"]["id"] == record["id"]
    stranger = delivery.graphql(DELIVERY, variables, other_customer)
    assert stranger["data"] == {"delivery": None}
    assert error_codes(stranger) == ["FORBIDDEN"]
    anonymous = delivery.graphql(DELIVERY, variables)
    assert anonymous["data"] == {"delivery": None}
    assert error_codes(anonymous) == ["UNAUTHENTICATED"]


@pytest.mark.parametrize("unknown_id", [uuid.uuid4().hex, "not-an-id", "delivery:outbox", ""])
def test_an_unknown_delivery_is_null(delivery: Delivery, admin: Caller, unknown_id: str) -> None:
    assert data_of(delivery.graphql(DELIVERY, {"id": unknown_id}, admin)) == {"delivery": None}


def test_tracking_is_public_but_personal_data_is_not(
    delivery: Delivery, scheduled: Scheduled, customer: Caller, other_customer: Caller
) -> None:
    record = scheduled(customer)
    public = TRACK % "id status carrier trackingNumber estimatedDelivery events { status at note }"
    variables = {"number": record["trackingNumber"]}

    tracked = data_of(delivery.graphql(public, variables))["trackDelivery"]
    assert tracked == {
        key: value
        for key, value in expected_view(record, customer).items()
        if key in {"id", "status", "carrier", "trackingNumber", "estimatedDelivery", "events"}
    }
    # Surrounding whitespace is ignored (a pasted tracking number).
    padded = {"number": f"  {record['trackingNumber']} "}
    assert data_of(delivery.graphql(public, padded))["trackDelivery"]["id"] == record["id"]

    personal = TRACK % "id recipient { id } address { city }"
    for caller in (None, other_customer):
        body = delivery.graphql(personal, variables, caller)
        assert body["data"] == {"trackDelivery": None}, body
        # Both fields are refused; how many errors report it is the GraphQL library's business.
        assert set(error_codes(body)) == {"FORBIDDEN" if caller else "UNAUTHENTICATED"}, body
    own = data_of(delivery.graphql(personal, variables, customer))["trackDelivery"]
    assert own == {
        "id": record["id"],
        "recipient": {"id": customer.user_id},
        "address": {"city": "Amsterdam"},
    }


@pytest.mark.parametrize("number", ["SG" + "A" * 16, "sg-not-a-number", "delivery:outbox", ""])
def test_an_unknown_tracking_number_is_null(delivery: Delivery, number: str) -> None:
    assert data_of(delivery.graphql(TRACK % "id", {"number": number})) == {"trackDelivery": None}


def test_delivery_entities_follow_the_same_rules(
    delivery: Delivery, scheduled: Scheduled, customer: Caller, other_customer: Caller, admin: Caller
) -> None:
    record = scheduled(customer)
    unknown = uuid.uuid4().hex
    variables = {
        "representations": [representation("Delivery", record["id"]), representation("Delivery", unknown)]
    }

    own = data_of(delivery.graphql(DELIVERY_ENTITY, variables, customer))["_entities"]
    assert own == [expected_view(record, customer), None]
    assert data_of(delivery.graphql(DELIVERY_ENTITY, variables, admin))["_entities"][0]["id"] == record["id"]

    stranger = delivery.graphql(DELIVERY_ENTITY, variables, other_customer)
    assert stranger["data"] == {"_entities": [None, None]}
    assert error_codes(stranger) == ["FORBIDDEN"]
    anonymous = delivery.graphql(DELIVERY_ENTITY, variables)
    assert anonymous["data"]["_entities"][0] is None
    assert "UNAUTHENTICATED" in error_codes(anonymous)
    assert set(error_codes(anonymous)) == {"UNAUTHENTICATED"}


def test_order_delivery(
    delivery: Delivery, scheduled: Scheduled, customer: Caller, other_customer: Caller, admin: Caller
) -> None:
    record = scheduled(customer)
    unpaid_order = uuid.uuid4().hex
    variables = {
        "representations": [representation("Order", record["orderId"]), representation("Order", unpaid_order)]
    }
    expected = [
        {"id": record["orderId"], "delivery": {"id": record["id"], "status": "SCHEDULED"}},
        {"id": unpaid_order, "delivery": None},
    ]

    assert data_of(delivery.graphql(ORDER_ENTITY, variables, customer))["_entities"] == expected
    assert data_of(delivery.graphql(ORDER_ENTITY, variables, admin))["_entities"] == expected
    stranger = delivery.graphql(ORDER_ENTITY, variables, other_customer)
    assert stranger["data"]["_entities"][0] == {"id": record["orderId"], "delivery": None}
    assert error_codes(stranger) == ["FORBIDDEN"]
    anonymous = delivery.graphql(ORDER_ENTITY, variables)
    assert [entity["delivery"] for entity in anonymous["data"]["_entities"]] == [None, None]
    assert error_codes(anonymous) == ["UNAUTHENTICATED", "UNAUTHENTICATED"]


def test_user_deliveries_newest_first(
    delivery: Delivery, scheduled: Scheduled, customer: Caller, other_customer: Caller, admin: Caller
) -> None:
    first, second = scheduled(customer), scheduled(customer)
    nobody = uuid.uuid4().hex
    variables = {
        "representations": [representation("User", customer.user_id), representation("User", nobody)]
    }
    own = {"representations": [representation("User", customer.user_id)]}

    assert data_of(delivery.graphql(USER_ENTITY, own, customer))["_entities"] == [
        {"id": customer.user_id, "deliveries": [{"id": second["id"]}, {"id": first["id"]}]}
    ]
    assert data_of(delivery.graphql(USER_ENTITY, variables, admin))["_entities"] == [
        {"id": customer.user_id, "deliveries": [{"id": second["id"]}, {"id": first["id"]}]},
        {"id": nobody, "deliveries": []},
    ]
    stranger = delivery.graphql(USER_ENTITY, own, other_customer)
    assert stranger["data"] == {"_entities": [None]}
    assert error_codes(stranger) == ["FORBIDDEN"]
    anonymous = delivery.graphql(USER_ENTITY, own)
    assert anonymous["data"] == {"_entities": [None]}
    assert error_codes(anonymous) == ["UNAUTHENTICATED"]
