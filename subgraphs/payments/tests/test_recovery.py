"""Work a crash interrupted is repaired; payOrder waits for an order.placed still in flight."""

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from conftest import Shop

from payments.config import Settings
from payments.operations import Payments
from payments.processor import CardProcessor, parse_card
from payments.store import PaymentStore


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, order_wait_seconds=10.0)


def repairer(shop: Shop, settings: Settings, processor: CardProcessor) -> Payments:
    return Payments(PaymentStore(reads=shop.db, writes=shop.db), processor, settings)


async def test_pay_order_waits_for_an_order_placed_still_in_flight(shop: Shop) -> None:
    order_id = "a" * 32
    paying = asyncio.create_task(shop.pay(order_id, as_user="alice"))

    await shop.place_order_with_id(order_id, "alice")
    body = await paying

    assert body["data"]["payOrder"]["status"] == "CAPTURED"


async def crashed_mid_charge(shop: Shop, order_id: str, payment_id: str) -> None:
    """What a crash between claiming the order and settling the payment leaves behind."""
    long_ago = datetime.now(UTC) - timedelta(minutes=10)
    await shop.db.orders.update_one(
        {"_id": order_id}, {"$set": {"capturingPaymentId": payment_id, "claimedAt": long_ago}}
    )
    await shop.db.idempotency_keys.insert_one(
        {"_id": "alice:crash-key-1", "paymentId": payment_id, "requestHash": "x", "createdAt": long_ago}
    )


async def test_a_charge_that_never_reached_the_processor_is_failed_and_the_order_freed(
    shop: Shop, settings: Settings
) -> None:
    order_id = await shop.place_order("alice")
    await crashed_mid_charge(shop, order_id, "p" * 32)
    await shop.db.payments.insert_one(
        {
            "_id": "p" * 32,
            "orderId": order_id,
            "payerId": "alice",
            "status": "PENDING",
            "amount": {"amount": 2500, "currency": "EUR"},
            "card": {"brand": "visa", "last4": "4242"},
            "failureReason": None,
            "refundedAmount": 0,
            "refunds": [],
            "appliedEvents": [],
            "createdAt": datetime.now(UTC) - timedelta(minutes=10),
            "updatedAt": datetime.now(UTC),
        }
    )

    await repairer(shop, settings, CardProcessor()).recover_interrupted()

    payment = await shop.db.payments.find_one({"_id": "p" * 32})
    assert payment is not None
    assert (payment["status"], payment["failureReason"]) == ("FAILED", "processing_interrupted")
    failed = await shop.eventually(lambda: shop.published("payment.failed"))
    assert failed[0].data["reason"] == "processing_interrupted"
    paid = await shop.pay(order_id, as_user="alice")
    assert paid["data"]["payOrder"]["status"] == "CAPTURED"


async def test_a_charge_the_processor_took_is_captured(shop: Shop, settings: Settings) -> None:
    order_id = await shop.place_order("alice")
    payment_id = "q" * 32
    await crashed_mid_charge(shop, order_id, payment_id)
    await shop.db.payments.insert_one(
        {
            "_id": payment_id,
            "orderId": order_id,
            "payerId": "alice",
            "status": "PENDING",
            "amount": {"amount": 2500, "currency": "EUR"},
            "card": {"brand": "visa", "last4": "4242"},
            "failureReason": None,
            "refundedAmount": 0,
            "refunds": [],
            "appliedEvents": [],
            "createdAt": datetime.now(UTC) - timedelta(minutes=10),
            "updatedAt": datetime.now(UTC),
        }
    )
    processor = CardProcessor()
    card = parse_card("4242424242424242", 12, 2090, "123", now=datetime.now(UTC))
    await processor.charge(reference=payment_id, card=card, amount=2500, currency="EUR")

    await repairer(shop, settings, processor).recover_interrupted()

    payment = await shop.db.payments.find_one({"_id": payment_id})
    assert payment is not None
    assert payment["status"] == "CAPTURED"
    again = await shop.pay(order_id, as_user="alice")
    assert again["errors"][0]["extensions"]["code"] == "CONFLICT"


async def test_a_claim_without_a_payment_is_released_with_its_key(shop: Shop, settings: Settings) -> None:
    order_id = await shop.place_order("alice")
    await crashed_mid_charge(shop, order_id, "r" * 32)

    await repairer(shop, settings, CardProcessor()).recover_interrupted()

    projection = await shop.db.orders.find_one({"_id": order_id})
    assert projection is not None
    assert projection["capturingPaymentId"] is None
    assert await shop.db.idempotency_keys.count_documents({}) == 0
    paid = await shop.pay(order_id, as_user="alice", key="crash-key-1")
    assert paid["data"]["payOrder"]["status"] == "CAPTURED"
