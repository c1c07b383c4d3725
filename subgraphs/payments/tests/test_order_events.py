"""The orders stream: order.placed projects the order, order.cancelled refunds what was captured."""

import uuid

from conftest import DECLINED_CARD, REFUND, Shop

from shopkit.auth import Role


async def test_order_placed_is_projected_once(shop: Shop) -> None:
    order_id = await shop.place_order("alice", amount=4200, currency="USD")

    projection = await shop.db.orders.find_one({"_id": order_id})

    assert projection is not None
    assert projection["customerId"] == "alice"
    assert projection["total"] == {"amount": 4200, "currency": "USD"}
    assert projection["status"] == "OPEN"
    assert projection["shippingAddress"]["country"] == "US"


async def test_a_redelivered_order_placed_changes_nothing(shop: Shop) -> None:
    order_id = await shop.place_order("alice", amount=2500)
    await shop.pay(order_id, as_user="alice")
    before = await shop.db.orders.find_one({"_id": order_id})

    await shop.place_order_with_id(order_id, "alice", amount=9999)
    await shop.eventually(shop.orders_stream_consumed)

    assert await shop.db.orders.find_one({"_id": order_id}) == before


async def test_cancelling_a_paid_order_refunds_it_exactly_once_even_if_delivered_twice(shop: Shop) -> None:
    order_id = await shop.place_order("alice", amount=2500)
    payment_id = (await shop.pay(order_id, as_user="alice"))["data"]["payOrder"]["id"]
    event_id = uuid.uuid4().hex

    await shop.cancel_order(order_id, "alice", event_id=event_id)
    await shop.cancel_order(order_id, "alice", event_id=event_id)
    await shop.eventually(shop.orders_stream_consumed)
    await shop.eventually(shop.outbox_drained)

    payment = await shop.db.payments.find_one({"_id": payment_id})
    assert payment is not None
    assert payment["status"] == "REFUNDED"
    assert payment["refundedAmount"] == 2500
    assert [(r["amount"], r["reason"]) for r in payment["refunds"]] == [(2500, "order_cancelled")]
    refunded = await shop.published("payment.refunded")
    assert len(refunded) == 1
    assert refunded[0].data["fullyRefunded"] is True
    projection = await shop.db.orders.find_one({"_id": order_id})
    assert projection is not None
    assert projection["status"] == "CANCELLED"


async def test_cancelling_refunds_what_remains_after_a_partial_refund(shop: Shop) -> None:
    order_id = await shop.place_order("alice", amount=2500)
    payment_id = (await shop.pay(order_id, as_user="alice"))["data"]["payOrder"]["id"]
    await shop.gql(REFUND, {"id": payment_id, "amount": 700}, as_user="root", role=Role.ADMIN)

    await shop.cancel_order(order_id, "alice")
    await shop.eventually(shop.orders_stream_consumed)

    payment = await shop.db.payments.find_one({"_id": payment_id})
    assert payment is not None
    assert payment["status"] == "REFUNDED"
    assert [r["amount"] for r in payment["refunds"]] == [700, 1800]


async def test_cancelling_refunds_nothing_when_nothing_was_captured(shop: Shop) -> None:
    order_id = await shop.place_order("alice")
    failed = (await shop.pay(order_id, as_user="alice", card=DECLINED_CARD))["data"]["payOrder"]

    await shop.cancel_order(order_id, "alice")
    await shop.eventually(shop.orders_stream_consumed)

    payment = await shop.db.payments.find_one({"_id": failed["id"]})
    assert payment is not None
    assert (payment["status"], payment["refunds"]) == ("FAILED", [])
    await shop.eventually(shop.outbox_drained)
    assert await shop.published("payment.refunded") == []


async def test_a_cancellation_arriving_before_the_order_is_applied_once_the_order_arrives(shop: Shop) -> None:
    order_id = uuid.uuid4().hex
    await shop.cancel_order(order_id, "alice")

    await shop.place_order_with_id(order_id, "alice")
    await shop.eventually(shop.orders_stream_consumed)

    projection = await shop.db.orders.find_one({"_id": order_id})
    assert projection is not None
    assert projection["status"] == "CANCELLED"
    body = await shop.pay(order_id, as_user="alice")
    assert body["errors"][0]["extensions"]["code"] == "CONFLICT"
