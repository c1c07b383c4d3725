"""payOrder: the happy path, declines, and every refusal (which must change nothing)."""

import json
from typing import Any

import pytest
from conftest import DECLINED_CARD, GOOD_CARD, NO_FUNDS_CARD, PAY, Shop

from shopkit.auth import Role


def error_code(body: dict[str, Any]) -> str:
    assert body.get("errors"), body
    code: str = body["errors"][0]["extensions"]["code"]
    return code


async def nothing_stored(shop: Shop) -> bool:
    return (
        await shop.db.payments.count_documents({}) == 0
        and await shop.db.idempotency_keys.count_documents({}) == 0
        and shop.processor.approved_charges() == []
    )


async def test_pays_an_order_with_the_success_card(shop: Shop) -> None:
    order_id = await shop.place_order("alice", amount=2500)

    body = await shop.pay(order_id, as_user="alice")

    assert "errors" not in body, body
    payment = body["data"]["payOrder"]
    assert payment["status"] == "CAPTURED"
    assert payment["amount"] == {"amount": 2500, "currency": "EUR"}
    assert payment["refundedAmount"] == {"amount": 0, "currency": "EUR"}
    assert payment["card"] == {"brand": "visa", "last4": "4242"}
    assert payment["failureReason"] is None
    assert payment["order"] == {"id": order_id}
    assert payment["payer"] == {"id": "alice"}
    assert [charge.reference for charge in shop.processor.approved_charges()] == [payment["id"]]
    captured = await shop.eventually(lambda: shop.published("payment.captured"))
    assert captured[0].data["paymentId"] == payment["id"]
    assert captured[0].data["amount"] == {"amount": 2500, "currency": "EUR"}
    assert captured[0].data["shippingAddress"]["city"] == "Springfield"


@pytest.mark.parametrize(
    ("card", "reason"),
    [(DECLINED_CARD, "card_declined"), (NO_FUNDS_CARD, "insufficient_funds")],
)
async def test_a_declined_card_fails_the_payment_and_the_customer_may_pay_again(
    shop: Shop, card: dict[str, Any], reason: str
) -> None:
    order_id = await shop.place_order("alice", amount=1999)

    failed = (await shop.pay(order_id, as_user="alice", card=card))["data"]["payOrder"]

    assert failed["status"] == "FAILED"
    assert failed["failureReason"] == reason
    assert failed["card"]["last4"] == card["number"][-4:]
    assert shop.processor.approved_charges() == []
    events = await shop.eventually(lambda: shop.published("payment.failed"))
    assert events[0].data["reason"] == reason
    assert events[0].data["paymentId"] == failed["id"]

    retried = (await shop.pay(order_id, as_user="alice", card=GOOD_CARD))["data"]["payOrder"]

    assert retried["status"] == "CAPTURED"
    assert retried["id"] != failed["id"]
    assert len(shop.processor.approved_charges()) == 1


BAD_CARDS = {
    "letters in the number": {**GOOD_CARD, "number": "4242abcd42424242"},
    "spaces in the number": {**GOOD_CARD, "number": "4242 4242 4242 4242"},
    "too short": {**GOOD_CARD, "number": "42424242424"},
    "too long": {**GOOD_CARD, "number": "42424242424242424242"},
    "bad Luhn check digit": {**GOOD_CARD, "number": "4242424242424241"},
    "month 0": {**GOOD_CARD, "expMonth": 0},
    "month 13": {**GOOD_CARD, "expMonth": 13},
    "two-digit year": {**GOOD_CARD, "expYear": 30},
    "expired": {**GOOD_CARD, "expMonth": 1, "expYear": 2021},
    "cvc too short": {**GOOD_CARD, "cvc": "12"},
    "cvc too long": {**GOOD_CARD, "cvc": "12345"},
    "cvc not digits": {**GOOD_CARD, "cvc": "12a"},
}


@pytest.mark.parametrize("card", BAD_CARDS.values(), ids=BAD_CARDS.keys())
async def test_bad_cards_are_refused_and_nothing_is_stored(shop: Shop, card: dict[str, Any]) -> None:
    order_id = await shop.place_order("alice")

    body = await shop.pay(order_id, as_user="alice", card=card)

    assert error_code(body) == "BAD_USER_INPUT"
    assert await nothing_stored(shop)


@pytest.mark.parametrize("key", ["short", "k" * 101], ids=["7 chars", "101 chars"])
async def test_bad_idempotency_keys_are_refused(shop: Shop, key: str) -> None:
    order_id = await shop.place_order("alice")

    body = await shop.pay(order_id, as_user="alice", key=key)

    assert error_code(body) == "BAD_USER_INPUT"
    assert await nothing_stored(shop)


async def test_only_the_orders_customer_may_pay(shop: Shop) -> None:
    order_id = await shop.place_order("alice")
    variables = {"input": {"orderId": order_id, "card": GOOD_CARD, "idempotencyKey": "key-12345"}}

    anonymous = await shop.gql(PAY, variables)
    other_customer = await shop.gql(PAY, variables, as_user="mallory")
    admin = await shop.gql(PAY, variables, as_user="root", role=Role.ADMIN)

    assert error_code(anonymous) == "UNAUTHENTICATED"
    assert error_code(other_customer) == "FORBIDDEN"
    assert error_code(admin) == "FORBIDDEN"
    assert await nothing_stored(shop)


async def test_an_order_payments_has_not_learnt_of_is_retryable(shop: Shop) -> None:
    body = await shop.pay("0" * 32, as_user="alice")

    assert error_code(body) == "SERVICE_UNAVAILABLE"
    extensions = body["errors"][0]["extensions"]
    assert extensions["retryable"] is True
    assert extensions["retryAfterSeconds"] > 0
    assert "not known to payments yet" in body["errors"][0]["message"]
    assert await nothing_stored(shop)


async def test_an_operator_smuggled_into_an_id_matches_nothing(shop: Shop) -> None:
    await shop.place_order("alice")
    smuggled = json.dumps({"$gt": ""})

    paid = await shop.pay(smuggled, as_user="alice")
    read = await shop.gql("query($id: ID!) { payment(id: $id) { id } }", {"id": smuggled}, as_user="alice")

    assert error_code(paid) == "SERVICE_UNAVAILABLE"
    assert read == {"data": {"payment": None}}


async def test_a_paid_order_cannot_be_paid_again(shop: Shop) -> None:
    order_id = await shop.place_order("alice")
    first = await shop.pay(order_id, as_user="alice")

    second = await shop.pay(order_id, as_user="alice", key="another-key-123")

    assert first["data"]["payOrder"]["status"] == "CAPTURED"
    assert error_code(second) == "CONFLICT"
    assert await shop.db.payments.count_documents({}) == 1
    assert await shop.db.idempotency_keys.count_documents({}) == 1
    assert len(shop.processor.approved_charges()) == 1


async def test_a_cancelled_order_cannot_be_paid(shop: Shop) -> None:
    order_id = await shop.place_order("alice")
    await shop.cancel_order(order_id, "alice")
    await shop.eventually(shop.orders_stream_consumed)

    body = await shop.pay(order_id, as_user="alice")

    assert error_code(body) == "CONFLICT"
    assert "cancelled" in body["errors"][0]["message"]
    assert await nothing_stored(shop)


async def test_the_card_number_and_cvc_are_never_stored_or_published(shop: Shop) -> None:
    number, cvc = "5555555555554444", "7319"
    card = {"number": number, "expMonth": 7, "expYear": 2091, "cvc": cvc}
    order_id = await shop.place_order("alice")
    await shop.pay(order_id, as_user="alice", card=card, key="declined-first")
    declined_order = await shop.place_order("alice")
    await shop.pay(declined_order, as_user="alice", card=DECLINED_CARD, key="declined-second")
    await shop.eventually(shop.outbox_drained)

    stored: list[str] = []
    for name in await shop.db.list_collection_names():
        stored.extend([json.dumps(doc, default=str) async for doc in shop.db[name].find()])
    published = [event.to_json() for event in await shop.published()]

    assert stored
    assert published
    for text in stored + published:
        assert number not in text
        assert str(DECLINED_CARD["number"]) not in text
        # As a value, not as a substring: ids and timestamps may contain any four digits.
        assert f'"{cvc}"' not in text
        assert f": {cvc}," not in text
        assert f": {cvc}}}" not in text
        assert '"number"' not in text.replace('"number": "SG-', "")
        assert "cvc" not in text
    payment = await shop.db.payments.find_one({"orderId": order_id})
    assert payment is not None
    assert payment["card"] == {"brand": "mastercard", "last4": "4444"}
