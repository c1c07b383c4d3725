"""Fault isolation (2): a consumer SIGKILLed while it handles a burst of events.

The consumer is stopped while a burst of orders is paid, so the burst's
payment.captured events wait on the stream; it is started again and SIGKILLed
as soon as it has applied the first of them, i.e. in the middle of the burst,
with events read but not yet acknowledged. After a restart each event is
handled exactly once in effect: one delivery per paid order (in the store, on
the stream and through the graph), each order PAID once.
"""

from collections import Counter
from typing import Any

from pymongo.database import Database
from redis import Redis

from e2e.shop import Shop, eventually
from faults.checks import (
    assert_one_delivery_each,
    deliveries_by_order,
    pay_all,
    place_and_pay,
    place_orders,
    wait_until_all_delivered,
)
from stack import Stack

BURST = 15


def test_delivery_killed_mid_burst_handles_each_event_once(
    shop: Shop, stack_control: Stack, delivery_store: Redis, events_redis: Redis
) -> None:
    every_delivery = stack_control.config.processes("delivery")
    stack_control.stop(*every_delivery)
    try:
        burst = place_and_pay(shop, BURST)
        stack_control.start("delivery")

        def handled() -> int:
            stored = deliveries_by_order(delivery_store)
            return sum(1 for order_id in burst.order_ids if stored[order_id])

        eventually(handled, lambda count: count >= 1, "delivery to start on the burst", pause=0.02)
        stack_control.kill("delivery")
    finally:
        stack_control.start(*every_delivery)

    wait_until_all_delivered(shop, burst, deadline=120.0)
    assert_one_delivery_each(shop, burst, delivery_store, events_redis)


def test_orders_killed_mid_burst_applies_each_payment_once(
    shop: Shop,
    stack_control: Stack,
    orders_db: Database[dict[str, Any]],
    payments_db: Database[dict[str, Any]],
    delivery_store: Redis,
    events_redis: Redis,
) -> None:
    burst = place_orders(shop, BURST)
    # Orders publishes order.placed through its outbox: let payments learn of every
    # order before orders goes away, or they could not be paid meanwhile.
    eventually(
        lambda: payments_db["orders"].count_documents({"_id": {"$in": burst.order_ids}}),
        lambda known: known == BURST,
        "payments to learn of the burst's orders",
    )
    stack_control.stop("orders")
    try:
        # payOrder needs only payments (its projection of order.placed), not orders.
        pay_all(shop, burst)
        stack_control.start("orders")

        def paid() -> int:
            return orders_db["orders"].count_documents({"_id": {"$in": burst.order_ids}, "status": "PAID"})

        eventually(paid, lambda count: count >= 1, "orders to start on the burst", pause=0.02)
        stack_control.kill("orders")
    finally:
        stack_control.start("orders")

    wait_until_all_delivered(shop, burst, deadline=120.0)
    for order in orders_db["orders"].find({"_id": {"$in": burst.order_ids}}):
        assert order["status"] == "PAID"
        applied = Counter(order["appliedEvents"])
        assert all(times == 1 for times in applied.values()), applied
        steps = Counter(entry["status"] for entry in order["history"])
        assert steps["PAID"] == 1, order["history"]
    assert_one_delivery_each(shop, burst, delivery_store, events_redis)
