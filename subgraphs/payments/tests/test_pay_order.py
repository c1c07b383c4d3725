"""payOrder: the happy path, declines, and every refusal."""

from conftest import Shop


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
    assert len(shop.processor.approved_charges()) == 1
    captured = await shop.eventually(lambda: shop.published("payment.captured"))
    assert captured[0].data["paymentId"] == payment["id"]
    assert captured[0].data["shippingAddress"]["city"] == "Springfield"
