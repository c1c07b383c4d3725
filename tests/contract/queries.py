"""The operations the suite sends, and reading their answers."""

from __future__ import annotations

from typing import Any

DELIVERY_FIELDS = """
    id status carrier trackingNumber estimatedDelivery updatedAt
    order { id } recipient { id }
    address { line1 line2 city postalCode country }
    events { status at note }
"""
DELIVERY = f"query($id: ID!) {{ delivery(id: $id) {{ {DELIVERY_FIELDS} }} }}"
TRACK = "query($number: String!) { trackDelivery(trackingNumber: $number) { %s } }"
ENTITIES = "query($representations: [_Any!]!) { _entities(representations: $representations) { %s } }"
DELIVERY_ENTITY = ENTITIES % f"... on Delivery {{ {DELIVERY_FIELDS} }}"
ORDER_ENTITY = ENTITIES % "... on Order { id delivery { id status } }"
USER_ENTITY = ENTITIES % "... on User { id deliveries { id } }"
UPDATE_STATUS = """
    mutation($id: ID!, $status: DeliveryStatus!, $note: String) {
      updateDeliveryStatus(id: $id, status: $status, note: $note) {
        id status updatedAt events { status at note }
      }
    }
"""


def error_codes(body: dict[str, Any]) -> list[str]:
    return [error.get("extensions", {}).get("code") for error in body.get("errors", [])]


def data_of(body: dict[str, Any]) -> dict[str, Any]:
    assert not body.get("errors"), body["errors"]
    data: dict[str, Any] = body["data"]
    return data


def representation(typename: str, entity_id: str) -> dict[str, str]:
    return {"__typename": typename, "id": entity_id}
