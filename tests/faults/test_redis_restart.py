"""Fault isolation (3): Redis (AOF on) restarted in the middle of a burst.

Redis carries every event stream and is the delivery service's store. A
restart while orders are being paid must lose nothing: every order ends PAID,
charged once, with exactly one delivery.
"""

import threading
from typing import Any

from pymongo.database import Database
from redis import Redis

from e2e.shop import Shop, eventually
from faults.checks import (
    assert_one_delivery_each,
    charges_by_order,
    pay_all,
    place_orders,
    wait_until_all_delivered,
)
from stack import Stack

BURST = 15


def test_no_event_is_lost_when_redis_restarts(
    shop: Shop,
    stack_control: Stack,
    delivery_store: Redis,
    events_redis: Redis,
    payments_db: Database[dict[str, Any]],
) -> None:
    burst = place_orders(shop, BURST)
    payments: list[dict[str, Any]] = []
    failure: list[BaseException] = []

    def pay_in_background() -> None:
        try:
            payments.extend(pay_all(shop, burst, workers=3))
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            failure.append(error)

    payer = threading.Thread(target=pay_in_background)
    payer.start()
    try:
        # Restart once the burst is under way: some orders paid, others not yet.
        eventually(
            lambda: payments_db["payments"].count_documents({"orderId": {"$in": burst.order_ids}}),
            lambda charged: charged >= 1,
            "the first payment of the burst",
            pause=0.02,
        )
        stack_control.restart("redis")
    finally:
        payer.join(timeout=300)
    assert not payer.is_alive(), "paying the burst did not finish"
    assert not failure, failure

    wait_until_all_delivered(shop, burst, deadline=120.0)
    assert charges_by_order(payments_db, burst.order_ids) == {
        order_id: ["CAPTURED"] for order_id in burst.order_ids
    }
    assert_one_delivery_each(shop, burst, delivery_store, events_redis)
