"""Reading deliveries: who may see what, in root queries and in `_entities` alike."""

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx

from delivery.events import EventHandlers, delivery_status_changed
from delivery.rules import DeliveryStatus
from delivery.store import DeliveryStore

from .conftest import ADDRESS, Caller, error_codes, graphql, scheduled

DELIVERY_FIELDS = """
    id status carrier trackingNumber estimatedDelivery updatedAt
    order { id } recipient { id }
    address { line1 line2 city postalCode country }
    events { status at note }
"""
DELIVERY = f"query($id: ID!) {{ delivery(id: $id) {{ {DELIVERY_FIELDS} }} }}"
TRACK_FIELDS = "query($number: String!) { trackDelivery(trackingNumber: $number) { %s } }"
TRACK = TRACK_FIELDS % "id status carrier events { status }"
ENTITIES = "query($representations: [_Any!]!) { _entities(representations: $representations) { %s } }"


async def test_recipient_reads_their_delivery(
    client: httpx.AsyncClient, handlers: EventHandlers, store: DeliveryStore, customer: Caller
) -> None:
    record = await scheduled(handlers, store, customer)

    body = await graphql(client, DELIVERY, {"id": record.id}, customer)

    assert "errors" not in body
    delivery = body["data"]["delivery"]
    assert delivery["id"] == record.id
    assert delivery["status"] == "SCHEDULED"
    assert delivery["carrier"] == record.carrier
    assert delivery["trackingNumber"] == record.tracking_number
    assert delivery["estimatedDelivery"].endswith("+00:00")
    assert delivery["order"] == {"id": record.order_id}
    assert delivery["recipient"] == {"id": customer.user_id}
    assert delivery["address"] == ADDRESS
    assert [event["status"] for event in delivery["events"]] == ["SCHEDULED"]


async def test_delivery_authorization(
    client: httpx.AsyncClient,
    handlers: EventHandlers,
    store: DeliveryStore,
    customer: Caller,
    other_customer: Caller,
    admin: Caller,
) -> None:
    record = await scheduled(handlers, store, customer)
    variables = {"id": record.id}

    assert (await graphql(client, DELIVERY, variables, admin))["data"]["delivery"]["id"] == record.id
    stranger = await graphql(client, DELIVERY, variables, other_customer)
    assert stranger["data"]["delivery"] is None
    assert error_codes(stranger) == ["FORBIDDEN"]
    anonymous = await graphql(client, DELIVERY, variables)
    assert error_codes(anonymous) == ["UNAUTHENTICATED"]
    bad_token = await graphql(client, DELIVERY, variables, Caller(customer.user_id, "not.a.token"))
    assert error_codes(bad_token) == ["UNAUTHENTICATED"]


async def test_unknown_or_malformed_ids_find_nothing(
    client: httpx.AsyncClient, handlers: EventHandlers, store: DeliveryStore, admin: Caller
) -> None:
    await scheduled(handlers, store, admin)
    # Strings that would address other keys if they reached the key space unchecked.
    for delivery_id in [uuid.uuid4().hex, "outbox", "by-order:x", '{"$gt": ""}', "*", ""]:
        body = await graphql(client, DELIVERY, {"id": delivery_id}, admin)
        assert body == {"data": {"delivery": None}}, delivery_id


async def test_track_delivery_is_public(
    client: httpx.AsyncClient, handlers: EventHandlers, store: DeliveryStore, customer: Caller
) -> None:
    record = await scheduled(handlers, store, customer)

    body = await graphql(client, TRACK, {"number": record.tracking_number})

    assert body == {
        "data": {
            "trackDelivery": {
                "id": record.id,
                "status": "SCHEDULED",
                "carrier": record.carrier,
                "events": [{"status": "SCHEDULED"}],
            }
        }
    }
    padded = await graphql(client, TRACK, {"number": f"  {record.tracking_number} "})
    assert padded["data"]["trackDelivery"]["id"] == record.id


async def test_track_delivery_does_not_reveal_the_recipient(
    client: httpx.AsyncClient,
    handlers: EventHandlers,
    store: DeliveryStore,
    customer: Caller,
    other_customer: Caller,
) -> None:
    record = await scheduled(handlers, store, customer)
    variables = {"number": record.tracking_number}

    for private_field in ["recipient { id }", "address { city }"]:
        query = TRACK_FIELDS % f"status {private_field}"
        for caller in [None, other_customer]:
            body = await graphql(client, query, variables, caller)
            assert body["data"] == {"trackDelivery": None}
            assert error_codes(body) == ["UNAUTHENTICATED" if caller is None else "FORBIDDEN"]
            assert body["errors"][0]["path"][0] == "trackDelivery"
            assert customer.user_id not in str(body)
        owner = await graphql(client, query, variables, customer)
        assert "errors" not in owner
        assert owner["data"]["trackDelivery"]["status"] == "SCHEDULED"


async def test_track_delivery_unknown_number_is_null(
    client: httpx.AsyncClient, handlers: EventHandlers, store: DeliveryStore, customer: Caller
) -> None:
    await scheduled(handlers, store, customer)
    for number in ["SGAAAAAAAAAAAAAAAA", "nope", "", '{"$gt": ""}', "SG*"]:
        assert await graphql(client, TRACK, {"number": number}) == {"data": {"trackDelivery": None}}


async def entities(
    client: httpx.AsyncClient, selection: str, representations: list[dict[str, Any]], caller: Caller | None
) -> dict[str, Any]:
    return await graphql(client, ENTITIES % selection, {"representations": representations}, caller)


async def test_order_delivery(
    client: httpx.AsyncClient,
    handlers: EventHandlers,
    store: DeliveryStore,
    customer: Caller,
    other_customer: Caller,
    admin: Caller,
) -> None:
    record = await scheduled(handlers, store, customer)
    selection = "... on Order { id delivery { id status } }"
    with_delivery = {"__typename": "Order", "id": record.order_id}
    without_delivery = {"__typename": "Order", "id": uuid.uuid4().hex}

    for caller in [customer, admin]:
        body = await entities(client, selection, [with_delivery, without_delivery], caller)
        assert body == {
            "data": {
                "_entities": [
                    {"id": record.order_id, "delivery": {"id": record.id, "status": "SCHEDULED"}},
                    {"id": without_delivery["id"], "delivery": None},
                ]
            }
        }
    stranger = await entities(client, selection, [with_delivery], other_customer)
    assert stranger["data"]["_entities"] == [{"id": record.order_id, "delivery": None}]
    assert error_codes(stranger) == ["FORBIDDEN"]
    anonymous = await entities(client, selection, [with_delivery], None)
    assert error_codes(anonymous) == ["UNAUTHENTICATED"]


async def test_order_delivery_events_are_read_with_it(
    client: httpx.AsyncClient, handlers: EventHandlers, store: DeliveryStore, customer: Caller
) -> None:
    record = await scheduled(handlers, store, customer)
    await store.change_status(
        record.id,
        DeliveryStatus.IN_TRANSIT,
        note="Left the depot",
        at=datetime.now(UTC),
        event_for=lambda change: delivery_status_changed(change, None),
    )
    selection = "... on Order { delivery { events { status at note } } }"
    order = {"__typename": "Order", "id": record.order_id}

    body = await entities(client, selection, [order], customer)

    events = body["data"]["_entities"][0]["delivery"]["events"]
    assert [(event["status"], event["note"]) for event in events][1:] == [("IN_TRANSIT", "Left the depot")]
    by_id = await graphql(client, DELIVERY, {"id": record.id}, customer)
    assert by_id["data"]["delivery"]["events"] == events


async def test_user_deliveries(
    client: httpx.AsyncClient,
    handlers: EventHandlers,
    store: DeliveryStore,
    customer: Caller,
    other_customer: Caller,
    admin: Caller,
) -> None:
    first = await scheduled(handlers, store, customer)
    second = await scheduled(handlers, store, customer)
    selection = "... on User { id deliveries { id } }"
    user = {"__typename": "User", "id": customer.user_id}

    for caller in [customer, admin]:
        body = await entities(client, selection, [user], caller)
        deliveries = body["data"]["_entities"][0]["deliveries"]
        assert [delivery["id"] for delivery in deliveries] == [second.id, first.id]  # newest first
    empty = await entities(
        client, selection, [{"__typename": "User", "id": other_customer.user_id}], other_customer
    )
    assert empty["data"]["_entities"] == [{"id": other_customer.user_id, "deliveries": []}]
    stranger = await entities(client, selection, [user], other_customer)
    assert stranger["data"]["_entities"] == [None]
    assert error_codes(stranger) == ["FORBIDDEN"]


async def test_delivery_entities(
    client: httpx.AsyncClient,
    handlers: EventHandlers,
    store: DeliveryStore,
    customer: Caller,
    other_customer: Caller,
    admin: Caller,
) -> None:
    record = await scheduled(handlers, store, customer)
    selection = "... on Delivery { id trackingNumber }"
    representations = [{"__typename": "Delivery", "id": record.id}, {"__typename": "Delivery", "id": "nope"}]

    for caller in [customer, admin]:
        body = await entities(client, selection, representations, caller)
        assert body == {
            "data": {"_entities": [{"id": record.id, "trackingNumber": record.tracking_number}, None]}
        }
    stranger = await entities(client, selection, representations, other_customer)
    assert stranger["data"]["_entities"] == [None, None]
    assert error_codes(stranger) == ["FORBIDDEN"]
