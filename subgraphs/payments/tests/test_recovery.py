"""Work a crash interrupted is repaired; payOrder waits for an order.placed still in flight."""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import Shop

from payments.config import Settings
from payments.processor import CardProcessor, parse_card
from payments.rules import Payments, canonical_request_hash
from payments.store import CLAIM_IN_QUESTION

LONG_AGO = datetime.now(UTC) - timedelta(minutes=10)
# conftest.GOOD_CARD, parsed.
CARD = parse_card("4242424242424242", 12, 2099, "987", now=datetime.now(UTC))


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"order_wait_seconds": 10.0})


def repairer(shop: Shop, settings: Settings, processor: CardProcessor) -> Payments:
    return Payments(shop.store, processor, settings)


async def crashed_while_charging(shop: Shop, order_id: str, payment_id: str, status: str) -> None:
    """What a crash after claiming the order, before finishing the payment, leaves behind."""
    await shop.db.payments.insert_one(
        {
            "_id": payment_id,
            "orderId": order_id,
            "payerId": "alice",
            "status": status,
            "amount": {"amount": 2500, "currency": "EUR"},
            "card": {"brand": "visa", "last4": "4242"},
            "failureReason": "card_declined" if status == "FAILED" else None,
            "refundedAmount": 0,
            "refunds": [],
            "appliedEvents": [],
            "createdAt": LONG_AGO,
            "updatedAt": LONG_AGO,
        }
    )
    await shop.db.orders.update_one(
        {"_id": order_id},
        {"$set": {"capturingPaymentId": payment_id, "claimedAt": LONG_AGO, CLAIM_IN_QUESTION: True}},
    )


async def projection(shop: Shop, order_id: str) -> dict[str, Any]:
    doc = await shop.db.orders.find_one({"_id": order_id})
    assert doc is not None
    return doc


async def test_pay_order_waits_for_an_order_placed_still_in_flight(shop: Shop) -> None:
    order_id = "a" * 32
    paying = asyncio.create_task(shop.pay(order_id, as_user="alice"))

    await shop.place_order_with_id(order_id, "alice")
    body = await paying

    assert body["data"]["payOrder"]["status"] == "CAPTURED"


async def test_a_charge_that_never_reached_the_processor_is_failed_and_the_order_freed(
    shop: Shop, settings: Settings
) -> None:
    order_id = await shop.place_order("alice")
    await crashed_while_charging(shop, order_id, "p" * 32, "PENDING")

    await repairer(shop, settings, CardProcessor()).recover_interrupted()

    payment = await shop.db.payments.find_one({"_id": "p" * 32})
    assert payment is not None
    assert (payment["status"], payment["failureReason"]) == ("FAILED", "processing_interrupted")
    failed = await shop.eventually(lambda: shop.published("payment.failed"))
    assert failed[0].data["reason"] == "processing_interrupted"
    assert (await projection(shop, order_id))["capturingPaymentId"] is None
    paid = await shop.pay(order_id, as_user="alice")
    assert paid["data"]["payOrder"]["status"] == "CAPTURED"


async def test_a_charge_the_processor_took_is_captured(shop: Shop, settings: Settings) -> None:
    order_id = await shop.place_order("alice")
    payment_id = "q" * 32
    await crashed_while_charging(shop, order_id, payment_id, "PENDING")
    processor = CardProcessor()
    await processor.charge(reference=payment_id, card=CARD, amount=2500, currency="EUR")

    await repairer(shop, settings, processor).recover_interrupted()

    payment = await shop.db.payments.find_one({"_id": payment_id})
    assert payment is not None
    assert payment["status"] == "CAPTURED"
    again = await shop.pay(order_id, as_user="alice")
    assert again["errors"][0]["extensions"]["code"] == "CONFLICT"


async def test_the_claim_of_a_failed_payment_is_released(shop: Shop, settings: Settings) -> None:
    order_id = await shop.place_order("alice")
    await crashed_while_charging(shop, order_id, "r" * 32, "FAILED")

    await repairer(shop, settings, CardProcessor()).recover_interrupted()

    assert (await projection(shop, order_id))["capturingPaymentId"] is None
    paid = await shop.pay(order_id, as_user="alice")
    assert paid["data"]["payOrder"]["status"] == "CAPTURED"


async def test_a_captured_payment_confirms_its_claim_so_recovery_never_reads_it_again(shop: Shop) -> None:
    order_id = await shop.place_order("alice")

    paid = await shop.pay(order_id, as_user="alice")

    claim = await projection(shop, order_id)
    assert claim["capturingPaymentId"] == paid["data"]["payOrder"]["id"]
    assert "claimedAt" not in claim
    assert CLAIM_IN_QUESTION not in claim
    assert await shop.store.claims_older_than(datetime.now(UTC)) == []


async def test_the_claim_of_a_captured_payment_a_crash_left_unconfirmed_is_confirmed(
    shop: Shop, settings: Settings
) -> None:
    order_id = await shop.place_order("alice")
    await crashed_while_charging(shop, order_id, "t" * 32, "CAPTURED")

    await repairer(shop, settings, CardProcessor()).recover_interrupted()

    claim = await projection(shop, order_id)
    assert claim["capturingPaymentId"] == "t" * 32
    assert "claimedAt" not in claim
    assert CLAIM_IN_QUESTION not in claim


async def test_a_key_whose_request_died_before_creating_its_payment_can_be_used(
    shop: Shop, settings: Settings
) -> None:
    order_id = await shop.place_order("alice")
    order = (await shop.store.orders_by_ids([order_id]))[order_id]
    same_request = canonical_request_hash(order, CARD, settings.card_fingerprint_key)
    await shop.db.idempotency_keys.insert_one(
        {
            "_id": "alice:abandoned-key",
            "payerId": "alice",
            "orderId": order_id,
            "paymentId": "s" * 32,
            "requestHash": same_request,
            "createdAt": LONG_AGO,
        }
    )

    body = await shop.pay(order_id, as_user="alice", key="abandoned-key")

    assert body["data"]["payOrder"]["status"] == "CAPTURED"
