"""Fault isolation (4): payments stopped.

placeOrder still works; payOrder fails cleanly (a GraphQL error, no 5xx from
the router, no data); once payments is back the same request pays, and
nothing is charged twice.
"""

from typing import Any

from pymongo.database import Database

from e2e.shop import Shop, card, new_key
from faults.checks import Burst, charges_by_order, wait_until_all_delivered
from stack import Stack

ORDERS = 5


def test_orders_are_placed_while_payments_is_down_and_paid_once_after(
    shop: Shop, stack_control: Stack, payments_db: Database[dict[str, Any]]
) -> None:
    customer = shop.register("Patient Customer")
    keys: dict[str, str] = {}
    stack_control.stop("payments")
    try:
        placed = [shop.place_order(customer) for _ in range(ORDERS)]
        assert all(order["status"] == "PENDING_PAYMENT" for order in placed)
        for order in placed:
            keys[order["id"]] = new_key()
            variables = {
                "input": {"orderId": order["id"], "card": card(), "idempotencyKey": keys[order["id"]]}
            }
            result = shop.graph.run("PayOrder", variables, token=customer.token)
            assert result.status < 500, result.body
            assert result.errors, f"payOrder answered while payments is down: {result.body}"
            assert (result.data or {}).get("payOrder") is None
        summary = shop.graph.run("OrderSummary", {"id": placed[0]["id"]}, token=customer.token)
        assert summary.ok()["order"]["status"] == "PENDING_PAYMENT"
    finally:
        stack_control.start("payments")

    order_ids = [order["id"] for order in placed]
    for order_id in order_ids:
        first = shop.pay(customer, order_id, key=keys[order_id]).ok()["payOrder"]
        retried = shop.pay(customer, order_id, key=keys[order_id]).ok()["payOrder"]
        assert first["status"] == "CAPTURED"
        assert retried["id"] == first["id"]
        shop.pay(customer, order_id).failed_with("CONFLICT")

    wait_until_all_delivered(shop, Burst([(customer, order_id) for order_id in order_ids]))
    assert charges_by_order(payments_db, order_ids) == {order_id: ["CAPTURED"] for order_id in order_ids}
