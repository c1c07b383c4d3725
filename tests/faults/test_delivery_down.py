"""Fault isolation (1): delivery stopped.

Customers still place, pay and read their orders (the delivery field comes
back null, with an error); once delivery is back, every order paid meanwhile
gets exactly one delivery.
"""

from pymongo.database import Database
from redis import Redis

from e2e.shop import Shop
from faults.checks import assert_one_delivery_each, charges_by_order, place_and_pay, wait_until_all_delivered
from stack import Stack

BURST = 10


def test_orders_are_placed_paid_and_read_while_delivery_is_down(
    shop: Shop,
    stack_control: Stack,
    delivery_store: Redis,
    events_redis: Redis,
    payments_db: Database[dict[str, object]],
) -> None:
    delivery = stack_control.config.processes("delivery")
    stack_control.stop(*delivery)
    try:
        burst = place_and_pay(shop, BURST)
        for customer, order_id in burst.orders:
            order = shop.wait_for_order(
                customer.token, order_id, lambda o: o["status"] == "PAID", "PAID", partial=True
            )
            assert order["delivery"] is None
            assert [p["status"] for p in order["payments"]] == ["CAPTURED"]
            answer = shop.order(customer.token, order_id)
            assert answer.errors, "reading an order's delivery with delivery down must report an error"
    finally:
        stack_control.start(*delivery)

    wait_until_all_delivered(shop, burst)
    assert_one_delivery_each(shop, burst, delivery_store, events_redis)
    assert charges_by_order(payments_db, burst.order_ids) == {
        order_id: ["CAPTURED"] for order_id in burst.order_ids
    }
