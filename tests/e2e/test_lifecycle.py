"""The order lifecycle of issue 5, driven through the router with real tokens.

Each step is checked where a customer sees it: the order's `status` and
`updatedAt`, its payments, and its delivery. Steps that happen asynchronously
(a payment's event reaching orders and delivery) are awaited with a bounded poll.
"""

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from functools import partial
from typing import Any

from e2e.shop import CARD_DECLINED, CARD_NO_FUNDS, Account, Shop


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


def money(amount: int, currency: str = "USD") -> dict[str, Any]:
    return {"amount": amount, "currency": currency}


def details(shop: Shop, token: str, order_id: str) -> dict[str, Any]:
    order: dict[str, Any] = shop.graph.run("OrderDetails", {"id": order_id}, token=token).ok()["order"]
    return order


def test_products_are_public_and_priced_in_minor_units(shop: Shop) -> None:
    products = shop.graph.run("Products").ok()["products"]

    by_sku = {product["sku"]: product for product in products}
    assert by_sku["KB-MECH-TKL"]["price"] == money(8999)
    assert all(isinstance(p["price"]["amount"], int) and p["price"]["amount"] > 0 for p in products)


def test_login_returns_a_token_for_the_registered_customer(shop: Shop, customer: Account) -> None:
    payload = shop.graph.run("Login", {"email": customer.email, "password": customer.password}).ok()["login"]

    assert payload["user"] == {
        "id": customer.id,
        "email": customer.email,
        "name": "Test Customer",
        "role": "CUSTOMER",
    }
    me = shop.graph.execute("{ me { id } }", token=payload["token"]).ok()["me"]
    assert me == {"id": customer.id}


def test_wrong_password_is_refused(shop: Shop, customer: Account) -> None:
    result = shop.graph.run("Login", {"email": customer.email, "password": "not-the-password"})

    result.failed_with("UNAUTHENTICATED")
    assert result.data is None or result.data.get("login") is None


def test_happy_path_from_placing_to_delivered(shop: Shop, customer: Account) -> None:
    placed = shop.place_order(customer)
    assert placed["status"] == "PENDING_PAYMENT"
    assert placed["total"] == money(8999 + 2 * 1450)
    assert placed["createdAt"] == placed["updatedAt"] or at(placed["updatedAt"]) >= at(placed["createdAt"])

    order = details(shop, customer.token, placed["id"])
    assert order["customer"] == {"id": customer.id, "email": customer.email, "name": "Test Customer"}
    assert {(i["product"]["sku"], i["product"]["name"], i["quantity"]) for i in order["items"]} == {
        ("KB-MECH-TKL", "Tenkeyless Mechanical Keyboard (Brown Switches)", 1),
        ("MUG-CER-350", "Ceramic Coffee Mug, 350 ml", 2),
    }
    mug = next(i for i in order["items"] if i["product"]["sku"] == "MUG-CER-350")
    assert mug["unitPrice"] == mug["product"]["price"] == money(1450)
    assert mug["lineTotal"] == money(2900)
    assert order["payments"] == []
    assert order["amountPaid"] == money(0)
    assert order["balanceDue"] == order["total"]
    assert order["delivery"] is None

    payment = shop.pay_ok(customer, placed["id"])
    assert payment["status"] == "CAPTURED"
    assert payment["amount"] == order["total"]
    assert payment["card"] == {"brand": "visa", "last4": "4242"}
    assert payment["order"] == {"id": placed["id"]}

    paid = shop.wait_for_order(customer.token, placed["id"], lambda o: o["status"] == "PAID", "PAID")
    assert at(paid["updatedAt"]) > at(placed["updatedAt"])

    delivery = shop.wait_for_delivery(customer.token, placed["id"])
    assert delivery["status"] == "SCHEDULED"
    order = details(shop, customer.token, placed["id"])
    assert order["amountPaid"] == order["total"]
    assert order["balanceDue"] == money(0)
    assert [p["status"] for p in order["payments"]] == ["CAPTURED"]
    assert order["delivery"]["carrier"]
    assert order["delivery"]["estimatedDelivery"] is not None
    assert [e["status"] for e in order["delivery"]["events"]] == ["SCHEDULED"]

    tracked = shop.graph.run("TrackDelivery", {"trackingNumber": delivery["trackingNumber"]}).ok()
    assert tracked["trackDelivery"]["id"] == delivery["id"]
    assert tracked["trackDelivery"]["status"] == "SCHEDULED"

    before = order["updatedAt"]
    in_transit = shop.set_delivery_status(delivery["id"], "IN_TRANSIT", "Left the warehouse")
    assert in_transit["status"] == "IN_TRANSIT"
    shipped = shop.wait_for_order(customer.token, placed["id"], lambda o: o["status"] == "SHIPPED", "SHIPPED")
    assert at(shipped["updatedAt"]) > at(before)

    delivered = shop.set_delivery_status(delivery["id"], "DELIVERED")
    assert [e["status"] for e in delivered["events"]] == ["SCHEDULED", "IN_TRANSIT", "DELIVERED"]
    assert delivered["events"][1]["note"] == "Left the warehouse"
    done = shop.wait_for_order(
        customer.token, placed["id"], lambda o: o["status"] == "DELIVERED", "DELIVERED"
    )
    assert at(done["updatedAt"]) > at(shipped["updatedAt"])

    order = details(shop, customer.token, placed["id"])
    assert order["status"] == "DELIVERED"
    assert order["delivery"]["status"] == "DELIVERED"
    assert [p["status"] for p in order["payments"]] == ["CAPTURED"]


def test_delivered_is_final(shop: Shop, customer: Account) -> None:
    placed, _ = shop.paid_order(customer)
    delivery = shop.wait_for_delivery(customer.token, placed["id"])
    shop.set_delivery_status(delivery["id"], "IN_TRANSIT")
    shop.set_delivery_status(delivery["id"], "DELIVERED")

    back = shop.graph.run(
        "UpdateDeliveryStatus", {"id": delivery["id"], "status": "IN_TRANSIT"}, token=shop.admin.token
    )

    back.failed_with("CONFLICT")
    tracked = shop.graph.run("TrackDelivery", {"trackingNumber": delivery["trackingNumber"]}).ok()[
        "trackDelivery"
    ]
    assert tracked["status"] == "DELIVERED"
    assert [e["status"] for e in tracked["events"]] == ["SCHEDULED", "IN_TRANSIT", "DELIVERED"]


def test_only_an_admin_moves_a_delivery(shop: Shop, customer: Account) -> None:
    placed, _ = shop.paid_order(customer)
    delivery = shop.wait_for_delivery(customer.token, placed["id"])

    result = shop.graph.run(
        "UpdateDeliveryStatus", {"id": delivery["id"], "status": "IN_TRANSIT"}, token=customer.token
    )

    result.failed_with("FORBIDDEN")
    order = shop.order(customer.token, placed["id"]).ok()["order"]
    assert order["status"] == "PAID"
    assert order["delivery"]["status"] == "SCHEDULED"


def test_declined_card_then_paying_again(shop: Shop, customer: Account) -> None:
    placed = shop.place_order(customer)

    declined = shop.pay(customer, placed["id"], CARD_DECLINED).ok()["payOrder"]
    assert declined["status"] == "FAILED"
    assert declined["failureReason"]
    assert declined["card"] == {"brand": "visa", "last4": "0002"}
    failed = shop.wait_for_order(
        customer.token, placed["id"], lambda o: o["status"] == "PAYMENT_FAILED", "PAYMENT_FAILED"
    )
    assert at(failed["updatedAt"]) > at(placed["updatedAt"])
    assert failed["delivery"] is None

    captured = shop.pay_ok(customer, placed["id"])
    assert captured["status"] == "CAPTURED"
    assert captured["id"] != declined["id"]
    paid = shop.wait_for_order(customer.token, placed["id"], lambda o: o["status"] == "PAID", "PAID")
    assert at(paid["updatedAt"]) > at(failed["updatedAt"])
    shop.wait_for_delivery(customer.token, placed["id"])

    order = details(shop, customer.token, placed["id"])
    assert sorted(p["status"] for p in order["payments"]) == ["CAPTURED", "FAILED"]
    assert order["amountPaid"] == order["total"]
    assert order["balanceDue"] == money(0)


def test_insufficient_funds(shop: Shop, customer: Account) -> None:
    placed = shop.place_order(customer)

    payment = shop.pay(customer, placed["id"], CARD_NO_FUNDS).ok()["payOrder"]

    assert payment["status"] == "FAILED"
    assert "insufficient" in payment["failureReason"].lower()
    order = shop.wait_for_order(
        customer.token, placed["id"], lambda o: o["status"] == "PAYMENT_FAILED", "PAYMENT_FAILED"
    )
    assert order["delivery"] is None
    assert details(shop, customer.token, placed["id"])["amountPaid"] == money(0)


def test_paying_a_paid_order_again_is_refused(shop: Shop, customer: Account) -> None:
    placed, payment = shop.paid_order(customer)

    again = shop.pay(customer, placed["id"])

    again.failed_with("CONFLICT")
    order = details(shop, customer.token, placed["id"])
    assert [p["id"] for p in order["payments"]] == [payment["id"]]


def test_cancel_after_payment_refunds_and_cancels_the_delivery(shop: Shop, customer: Account) -> None:
    placed, payment = shop.paid_order(customer)
    shop.wait_for_delivery(customer.token, placed["id"])
    paid = shop.wait_for_order(customer.token, placed["id"], lambda o: o["status"] == "PAID", "PAID")

    cancelled = shop.graph.run("CancelOrder", {"id": placed["id"]}, token=customer.token).ok()["cancelOrder"]
    assert cancelled["status"] == "CANCELLED"
    assert at(cancelled["updatedAt"]) > at(paid["updatedAt"])

    order = shop.wait_for_order(
        customer.token,
        placed["id"],
        lambda o: (
            [p["status"] for p in o["payments"]] == ["REFUNDED"] and o["delivery"]["status"] == "CANCELLED"
        ),
        "the payment REFUNDED and the delivery CANCELLED",
    )
    assert order["status"] == "CANCELLED"
    full = details(shop, customer.token, placed["id"])
    assert full["payments"][0]["id"] == payment["id"]
    assert full["payments"][0]["refundedAmount"] == full["total"]
    assert full["amountPaid"] == money(0)
    assert [e["status"] for e in full["delivery"]["events"]] == ["SCHEDULED", "CANCELLED"]


def test_cancel_before_payment_then_paying_never_keeps_the_money(shop: Shop, customer: Account) -> None:
    """Payments learns of a cancellation from the order.cancelled event, so a payOrder
    racing that event may still be charged; the system must then refund it, and the
    order stays CANCELLED without a delivery. Once payments knows, pay is refused.

    A charge that meets the cancellation while settling is refunded before payOrder
    answers, so its answer may already say REFUNDED."""
    placed = shop.place_order(customer)

    cancelled = shop.graph.run("CancelOrder", {"id": placed["id"]}, token=customer.token).ok()["cancelOrder"]
    assert cancelled["status"] == "CANCELLED"

    raced = shop.pay(customer, placed["id"])
    if raced.errors:
        raced.failed_with("CONFLICT")
    else:
        assert raced.ok()["payOrder"]["status"] in {"CAPTURED", "REFUNDED"}
    order = shop.wait_for_order(
        customer.token,
        placed["id"],
        lambda o: (
            all(p["status"] == "REFUNDED" for p in o["payments"])
            and (o["delivery"] is None or o["delivery"]["status"] == "CANCELLED")
        ),
        "no money kept and no live delivery",
    )
    assert order["status"] == "CANCELLED"
    assert details(shop, customer.token, placed["id"])["amountPaid"] == money(0)

    (error,) = shop.pay(customer, placed["id"]).failed_with("CONFLICT")
    assert "cancel" in error["message"].lower()


def test_cancel_after_shipping_is_refused(shop: Shop, customer: Account) -> None:
    """The carrier's IN_TRANSIT marks the order SHIPPED before it answers (delivery asks orders'
    shipOrder): a cancel right after it is refused, with no event in between to wait for."""
    placed, payment = shop.paid_order(customer)
    delivery = shop.wait_for_delivery(customer.token, placed["id"])
    shop.set_delivery_status(delivery["id"], "IN_TRANSIT")

    result = shop.graph.run("CancelOrder", {"id": placed["id"]}, token=customer.token)

    (error,) = result.failed_with("CONFLICT")
    assert error["message"] == f"Order {placed['number']} has already shipped and can no longer be cancelled."
    order = details(shop, customer.token, placed["id"])
    assert order["status"] == "SHIPPED"
    assert [(p["id"], p["status"]) for p in order["payments"]] == [(payment["id"], "CAPTURED")]
    assert order["delivery"]["status"] == "IN_TRANSIT"


def test_a_cancelled_order_never_ships(shop: Shop, customer: Account) -> None:
    """The other way round: once cancelled, the carrier's IN_TRANSIT is refused, whether or not
    delivery has seen order.cancelled yet, and the money is refunded."""
    placed, _ = shop.paid_order(customer)
    delivery = shop.wait_for_delivery(customer.token, placed["id"])
    shop.graph.run("CancelOrder", {"id": placed["id"]}, token=customer.token).ok()

    result = shop.graph.run(
        "UpdateDeliveryStatus", {"id": delivery["id"], "status": "IN_TRANSIT"}, token=shop.admin.token
    )

    (error,) = result.failed_with("CONFLICT")
    assert "cancel" in error["message"].lower()
    cancelled = ("CANCELLED", ["REFUNDED"], "CANCELLED")
    order = shop.wait_for_order(
        customer.token, placed["id"], partial(_ended, cancelled), "payment REFUNDED, delivery CANCELLED"
    )
    assert order["status"] == "CANCELLED"
    assert [e["status"] for e in details(shop, customer.token, placed["id"])["delivery"]["events"]] == [
        "SCHEDULED",
        "CANCELLED",
    ]


def test_cancel_and_shipping_at_once_agree(shop: Shop, customer: Account) -> None:
    """A customer's cancel and the carrier's IN_TRANSIT sent together: exactly one is accepted, and
    the order, its payment and its delivery all end on that side."""
    orders = [shop.paid_order(customer)[0] for _ in range(4)]
    deliveries = [shop.wait_for_delivery(customer.token, o["id"]) for o in orders]

    with ThreadPoolExecutor(max_workers=2) as pool:
        for placed, delivery in zip(orders, deliveries, strict=True):
            cancel = pool.submit(shop.graph.run, "CancelOrder", {"id": placed["id"]}, token=customer.token)
            ship = pool.submit(
                shop.graph.run,
                "UpdateDeliveryStatus",
                {"id": delivery["id"], "status": "IN_TRANSIT"},
                token=shop.admin.token,
            )
            cancelled, shipped = cancel.result(), ship.result()

            assert sorted([cancelled.codes, shipped.codes]) == [[], ["CONFLICT"]], (
                cancelled.body,
                shipped.body,
            )
            if shipped.codes:
                expected = ("CANCELLED", ["REFUNDED"], "CANCELLED")
            else:
                expected = ("SHIPPED", ["CAPTURED"], "IN_TRANSIT")
            order = shop.wait_for_order(
                customer.token,
                placed["id"],
                partial(_ended, expected),
                f"order, payments, delivery {expected}",
            )
            assert order["status"] == expected[0]


def _ended(expected: tuple[str, list[str], str], order: dict[str, Any]) -> bool:
    return (
        order["status"],
        [p["status"] for p in order["payments"]],
        order["delivery"]["status"],
    ) == expected


def test_ship_order_is_not_in_the_api(shop: Shop) -> None:
    """shipOrder is delivery's call to orders, @inaccessible: the router refuses it to every client."""
    result = shop.graph.execute('mutation { shipOrder(id: "any") { id } }', token=shop.admin.token)

    assert result.errors, result.body
    assert "shipOrder" in result.errors[0]["message"]
    assert result.data is None


def test_admin_partial_refund(shop: Shop, customer: Account) -> None:
    placed, payment = shop.paid_order(customer)

    shop.graph.run("RefundPayment", {"id": payment["id"], "amount": 100}, token=customer.token).failed_with(
        "FORBIDDEN"
    )
    partial = shop.graph.run(
        "RefundPayment", {"id": payment["id"], "amount": 100}, token=shop.admin.token
    ).ok()["refundPayment"]
    assert partial["status"] == "PARTIALLY_REFUNDED"
    assert partial["refundedAmount"] == money(100)

    too_much = shop.graph.run(
        "RefundPayment", {"id": payment["id"], "amount": payment["amount"]["amount"]}, token=shop.admin.token
    )
    too_much.failed_with("BAD_USER_INPUT")

    rest = shop.graph.run("RefundPayment", {"id": payment["id"]}, token=shop.admin.token).ok()[
        "refundPayment"
    ]
    assert rest["status"] == "REFUNDED"
    assert rest["refundedAmount"] == payment["amount"]
    order = details(shop, customer.token, placed["id"])
    assert order["amountPaid"] == money(0)
