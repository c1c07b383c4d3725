"""A charge still in flight when its order is cancelled, or when the processor is slow."""

import asyncio

import pytest
from conftest import Shop

from payments.config import Settings
from payments.store import PaymentStatus


async def pending_payment(shop: Shop, order_id: str) -> bool:
    return await shop.db.payments.find_one({"orderId": order_id, "status": PaymentStatus.PENDING}) is not None


async def test_a_cancellation_that_meets_a_charge_in_flight_ends_refunded(shop: Shop) -> None:
    order_id = await shop.place_order("alice", amount=3100)
    shop.processor.latency = 0.5
    paying = asyncio.create_task(shop.pay(order_id, as_user="alice"))
    await shop.eventually(lambda: pending_payment(shop, order_id))

    await shop.cancel_order(order_id, "alice")
    await shop.eventually(shop.orders_stream_consumed)  # handled while the charge runs, not retried
    paid = await paying

    assert paid["data"]["payOrder"]["status"] == "REFUNDED"
    payment = await shop.db.payments.find_one({"orderId": order_id})
    assert payment is not None
    assert [(refund["amount"], refund["reason"]) for refund in payment["refunds"]] == [
        (3100, "order_cancelled")
    ]
    await shop.eventually(shop.outbox_drained)
    assert [event.data["orderId"] for event in await shop.published("payment.refunded")] == [order_id]
    assert [charge.amount for charge in shop.processor.approved_charges()] == [3100]


async def test_a_cancellation_redelivered_after_the_charge_settled_refunds_once(shop: Shop) -> None:
    order_id = await shop.place_order("alice", amount=1200)
    shop.processor.latency = 0.3
    paying = asyncio.create_task(shop.pay(order_id, as_user="alice"))
    await shop.eventually(lambda: pending_payment(shop, order_id))
    cancel = await shop.cancel_order(order_id, "alice")
    await paying

    await shop.cancel_order(order_id, "alice", event_id=cancel.id)  # the same event, delivered again
    await shop.eventually(shop.orders_stream_consumed)

    payment = await shop.db.payments.find_one({"orderId": order_id})
    assert payment is not None
    assert payment["status"] == "REFUNDED"
    assert len(payment["refunds"]) == 1


class TestASlowProcessor:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return settings.model_copy(update={"charge_timeout_seconds": 0.2, "stale_payment_seconds": 30.0})

    async def test_a_charge_past_its_timeout_stays_pending_and_is_retryable(self, shop: Shop) -> None:
        order_id = await shop.place_order("alice")
        shop.processor.latency = 5.0

        body = await shop.pay(order_id, as_user="alice")

        [error] = body["errors"]
        assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE"
        assert error["extensions"]["retryable"] is True
        assert await pending_payment(shop, order_id)  # settled by recovery once stale, never twice
        assert shop.processor.approved_charges() == []


def test_the_charge_timeout_must_be_shorter_than_the_stale_threshold() -> None:
    with pytest.raises(ValueError, match="CHARGE_TIMEOUT_SECONDS"):
        Settings(charge_timeout_seconds=60.0, stale_payment_seconds=60.0)
