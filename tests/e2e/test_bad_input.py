"""Bad input through the router: a BAD_USER_INPUT error, and nothing changes."""

from typing import Any

import pytest
from pymongo.database import Database

from e2e.shop import DEFAULT_ADDRESS, Account, Shop, card, new_key

GOOD_LINE = {"sku": "MUG-CER-350", "quantity": 1}


def address(**changes: Any) -> dict[str, Any]:
    return {**DEFAULT_ADDRESS, **changes}


BAD_ORDERS: dict[str, dict[str, Any]] = {
    "unknown sku": {
        "items": [GOOD_LINE, {"sku": "NO-SUCH-SKU", "quantity": 1}],
        "shippingAddress": address(),
    },
    "quantity 0": {"items": [{"sku": "MUG-CER-350", "quantity": 0}], "shippingAddress": address()},
    "quantity 101": {"items": [{"sku": "MUG-CER-350", "quantity": 101}], "shippingAddress": address()},
    "negative quantity": {"items": [{"sku": "MUG-CER-350", "quantity": -1}], "shippingAddress": address()},
    "no items": {"items": [], "shippingAddress": address()},
    "unknown country": {"items": [GOOD_LINE], "shippingAddress": address(country="XX")},
    "country name instead of code": {"items": [GOOD_LINE], "shippingAddress": address(country="USA")},
    "blank city": {"items": [GOOD_LINE], "shippingAddress": address(city="  ")},
    "operator as sku": {"items": [{"sku": '{"$gt": ""}', "quantity": 1}], "shippingAddress": address()},
}

BAD_CARDS: dict[str, dict[str, Any]] = {
    "fails the Luhn check": {"number": "4242424242424241", "expMonth": 12, "expYear": 2034, "cvc": "123"},
    "too short": {"number": "4242", "expMonth": 12, "expYear": 2034, "cvc": "123"},
    "not digits": {"number": "4242-4242-abcd-4242", "expMonth": 12, "expYear": 2034, "cvc": "123"},
    "expired": {"number": "4242424242424242", "expMonth": 1, "expYear": 2020, "cvc": "123"},
    "month 13": {"number": "4242424242424242", "expMonth": 13, "expYear": 2034, "cvc": "123"},
    "bad cvc": {"number": "4242424242424242", "expMonth": 12, "expYear": 2034, "cvc": "1"},
}


def my_order_ids(shop: Shop, customer: Account) -> list[str]:
    nodes = shop.graph.run("MyOrders", {"first": 50}, token=customer.token).ok()["me"]["orders"]["nodes"]
    return [node["id"] for node in nodes]


@pytest.mark.parametrize("bad_input", BAD_ORDERS.values(), ids=BAD_ORDERS.keys())
def test_bad_order_is_refused_and_nothing_is_stored(
    shop: Shop, customer: Account, orders_db: Database[dict[str, Any]], bad_input: dict[str, Any]
) -> None:
    result = shop.graph.run("PlaceOrder", {"input": bad_input}, token=customer.token)

    (error,) = result.failed_with("BAD_USER_INPUT")
    assert error["message"]
    assert result.data is None or result.data.get("placeOrder") is None
    assert my_order_ids(shop, customer) == []
    assert orders_db["orders"].count_documents({"customerId": customer.id}) == 0


def test_placing_an_order_needs_a_token(shop: Shop) -> None:
    result = shop.graph.run("PlaceOrder", {"input": {"items": [GOOD_LINE], "shippingAddress": address()}})

    result.failed_with("UNAUTHENTICATED")


@pytest.mark.parametrize("bad_card", BAD_CARDS.values(), ids=BAD_CARDS.keys())
def test_bad_card_is_refused_and_nothing_is_charged(
    shop: Shop, customer: Account, payments_db: Database[dict[str, Any]], bad_card: dict[str, Any]
) -> None:
    placed = shop.place_order(customer)

    result = shop.graph.run(
        "PayOrder",
        {"input": {"orderId": placed["id"], "card": bad_card, "idempotencyKey": new_key()}},
        token=customer.token,
    )

    result.failed_with("BAD_USER_INPUT")
    assert payments_db["payments"].count_documents({"orderId": placed["id"]}) == 0
    order = shop.order(customer.token, placed["id"]).ok()["order"]
    assert order["status"] == "PENDING_PAYMENT"
    assert order["payments"] == []
    # The order can still be paid with a good card.
    assert shop.pay_ok(customer, placed["id"])["status"] == "CAPTURED"


def test_bad_idempotency_key_is_refused(shop: Shop, customer: Account) -> None:
    placed = shop.place_order(customer)

    result = shop.graph.run(
        "PayOrder",
        {"input": {"orderId": placed["id"], "card": card(), "idempotencyKey": "short"}},
        token=customer.token,
    )

    result.failed_with("BAD_USER_INPUT")


@pytest.mark.parametrize("order_id", ['{"$gt": ""}', "", "0" * 32, "../orders"])
def test_unknown_or_hostile_order_ids_match_nothing(shop: Shop, customer: Account, order_id: str) -> None:
    shop.place_order(customer)

    result = shop.graph.run("OrderSummary", {"id": order_id}, token=customer.token)

    assert result.status == 200
    assert (result.data or {}).get("order") is None
    assert set(result.codes) <= {"NOT_FOUND", "BAD_USER_INPUT"}
