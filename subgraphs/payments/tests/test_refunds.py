"""refundPayment: ADMIN only, CAPTURED → PARTIALLY_REFUNDED → REFUNDED, never more than captured."""

import asyncio
from typing import Any

import pytest
from conftest import DECLINED_CARD, REFUND, Shop

from shopkit.auth import Role


async def paid_order(shop: Shop, amount: int = 2500) -> tuple[str, str]:
    order_id = await shop.place_order("alice", amount=amount)
    body = await shop.pay(order_id, as_user="alice")
    return order_id, body["data"]["payOrder"]["id"]


async def refund(shop: Shop, payment_id: str, amount: int | None = None, **who: Any) -> dict[str, Any]:
    caller = who or {"as_user": "root", "role": Role.ADMIN}
    return await shop.gql(REFUND, {"id": payment_id, "amount": amount}, **caller)


async def test_partial_refunds_then_the_rest(shop: Shop) -> None:
    _, payment_id = await paid_order(shop, amount=2500)

    partial = await refund(shop, payment_id, 1000)
    rest = await refund(shop, payment_id)
    more = await refund(shop, payment_id, 1)

    assert partial["data"]["refundPayment"] == {
        "id": payment_id,
        "status": "PARTIALLY_REFUNDED",
        "refundedAmount": {"amount": 1000, "currency": "EUR"},
    }
    assert rest["data"]["refundPayment"]["status"] == "REFUNDED"
    assert rest["data"]["refundPayment"]["refundedAmount"]["amount"] == 2500
    assert more["errors"][0]["extensions"]["code"] == "CONFLICT"
    await shop.eventually(shop.outbox_drained)
    events = await shop.published("payment.refunded")
    assert [
        (e.data["amount"]["amount"], e.data["refundedTotal"]["amount"], e.data["fullyRefunded"])
        for e in events
    ] == [
        (1000, 1000, False),
        (1500, 2500, True),
    ]


@pytest.mark.parametrize("amount", [0, -5, 2501], ids=["zero", "negative", "more than captured"])
async def test_refund_amounts_outside_what_remains_are_refused(shop: Shop, amount: int) -> None:
    _, payment_id = await paid_order(shop, amount=2500)

    body = await refund(shop, payment_id, amount)

    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    payment = await shop.db.payments.find_one({"_id": payment_id})
    assert payment is not None
    assert (payment["status"], payment["refundedAmount"], payment["refunds"]) == ("CAPTURED", 0, [])


async def test_more_than_what_remains_after_a_partial_refund_is_refused(shop: Shop) -> None:
    _, payment_id = await paid_order(shop, amount=2500)
    await refund(shop, payment_id, 2000)

    body = await refund(shop, payment_id, 501)

    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "500" in body["errors"][0]["message"]


async def test_only_an_admin_refunds(shop: Shop) -> None:
    _, payment_id = await paid_order(shop)

    customer = await refund(shop, payment_id, as_user="alice")
    anonymous = await refund(shop, payment_id, as_user=None)

    assert customer["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    payment = await shop.db.payments.find_one({"_id": payment_id})
    assert payment is not None
    assert payment["status"] == "CAPTURED"


async def test_a_failed_payment_cannot_be_refunded(shop: Shop) -> None:
    order_id = await shop.place_order("alice")
    failed = await shop.pay(order_id, as_user="alice", card=DECLINED_CARD)

    body = await refund(shop, failed["data"]["payOrder"]["id"])

    assert body["errors"][0]["extensions"]["code"] == "CONFLICT"


async def test_an_unknown_payment_is_not_found(shop: Shop) -> None:
    body = await refund(shop, "f" * 32)

    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_concurrent_refunds_never_exceed_the_captured_amount(shop: Shop) -> None:
    _, payment_id = await paid_order(shop, amount=2500)

    bodies = await asyncio.gather(*(refund(shop, payment_id, 500) for _ in range(12)))

    succeeded = [b for b in bodies if "errors" not in b]
    assert len(succeeded) == 5
    payment = await shop.db.payments.find_one({"_id": payment_id})
    assert payment is not None
    assert payment["status"] == "REFUNDED"
    assert payment["refundedAmount"] == 2500
    assert sum(r["amount"] for r in payment["refunds"]) == 2500


async def test_amount_paid_and_balance_due_follow_refunds(shop: Shop) -> None:
    order_id, payment_id = await paid_order(shop, amount=2500)
    await refund(shop, payment_id, 400)
    query = """
    query($reps: [_Any!]!) { _entities(representations: $reps) {
      ... on Order { amountPaid { amount currency } balanceDue { amount currency } } } }
    """
    reps = [{"__typename": "Order", "id": order_id, "total": {"amount": 2500, "currency": "EUR"}}]

    body = await shop.gql(query, {"reps": reps}, as_user="alice")

    assert body["data"]["_entities"] == [
        {"amountPaid": {"amount": 2100, "currency": "EUR"}, "balanceDue": {"amount": 400, "currency": "EUR"}}
    ]
