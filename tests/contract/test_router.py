"""Through the Apollo Router: delivery's root fields and mutation, planned on the supergraph
composed with the implementation's SDL, with the caller's token and trace propagated."""

from __future__ import annotations

from typing import Any

import httpx
import redis

from contract.conftest import Scheduled
from contract.queries import DELIVERY, TRACK, UPDATE_STATUS, data_of, error_codes
from contract.service import Delivery
from contract.streams import produced_of_type
from contract.tokens import Caller

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def through(
    router_url: str, query: str, variables: dict[str, Any], headers: dict[str, str] | None = None
) -> dict[str, Any]:
    response = httpx.post(
        router_url, json={"query": query, "variables": variables}, headers=headers, timeout=30
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_delivery_reads_the_same_through_the_router(
    router_url: str, delivery: Delivery, scheduled: Scheduled, customer: Caller, other_customer: Caller
) -> None:
    record = scheduled(customer)
    variables = {"id": record["id"]}

    routed = through(router_url, DELIVERY, variables, customer.headers)

    assert routed == delivery.graphql(DELIVERY, variables, customer)
    assert data_of(routed)["delivery"]["id"] == record["id"]
    stranger = through(router_url, DELIVERY, variables, other_customer.headers)
    assert stranger["data"] == {"delivery": None}
    assert error_codes(stranger) == ["FORBIDDEN"]
    anonymous = through(router_url, DELIVERY, variables)
    assert error_codes(anonymous) == ["UNAUTHENTICATED"]


def test_tracking_through_the_router(router_url: str, scheduled: Scheduled, customer: Caller) -> None:
    record = scheduled(customer)
    variables = {"number": record["trackingNumber"]}

    public = through(router_url, TRACK % "id status carrier events { status }", variables)
    personal = through(router_url, TRACK % "id address { city }", variables)

    assert data_of(public)["trackDelivery"] == {
        "id": record["id"],
        "status": "SCHEDULED",
        "carrier": record["carrier"],
        "events": [{"status": "SCHEDULED"}],
    }
    assert personal["data"] == {"trackDelivery": None}
    assert error_codes(personal) == ["UNAUTHENTICATED"]


def test_moving_a_delivery_through_the_router_carries_the_trace(
    router_url: str, scheduled: Scheduled, customer: Caller, admin: Caller, events: redis.Redis
) -> None:
    record = scheduled(customer)
    headers = {**admin.headers, "traceparent": TRACEPARENT}

    moved = through(router_url, UPDATE_STATUS, {"id": record["id"], "status": "IN_TRANSIT"}, headers)
    conflict = through(router_url, UPDATE_STATUS, {"id": record["id"], "status": "SCHEDULED"}, headers)
    forbidden = through(router_url, UPDATE_STATUS, {"id": record["id"], "status": "FAILED"}, customer.headers)

    assert data_of(moved)["updateDeliveryStatus"]["status"] == "IN_TRANSIT"
    assert conflict["data"] is None
    assert conflict["errors"][0]["extensions"]["code"] == "CONFLICT"
    assert conflict["errors"][0]["extensions"]["status"] == "IN_TRANSIT"
    assert error_codes(forbidden) == ["FORBIDDEN"]
    [change] = produced_of_type(events, record["orderId"], "delivery.status_changed", 1)
    assert change["traceparent"] == TRACEPARENT
