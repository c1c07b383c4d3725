"""What the fault tests do to the system and what they count afterwards.

Counting happens in the stores themselves, not only through the graph:
deliveries in the delivery service's Redis, charges in the payments service's
MongoDB, events on the streams. A duplicate anywhere is a failure.
"""

import json
import re
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, cast

from pymongo.database import Database
from redis import Redis

from e2e.shop import Account, Shop, eventually

DELIVERY_KEY = re.compile(r"delivery:[0-9a-f]{32}")
DELIVERY_STREAM = "shopgraph.events.delivery"


@dataclass(frozen=True)
class Burst:
    """Orders placed (and maybe paid) in one go: (customer, order id) pairs."""

    orders: list[tuple[Account, str]]

    @property
    def order_ids(self) -> list[str]:
        return [order_id for _, order_id in self.orders]


def place_orders(shop: Shop, count: int, customers: int = 3) -> Burst:
    accounts = [shop.register(f"Burst Customer {index}") for index in range(customers)]
    orders = []
    for index in range(count):
        customer = accounts[index % customers]
        order = shop.place_order(customer, [{"sku": "NB-DOT-A5", "quantity": 1 + index % 4}])
        orders.append((customer, str(order["id"])))
    return Burst(orders)


def pay_all(shop: Shop, burst: Burst, workers: int = 3) -> list[dict[str, Any]]:
    """Pays every order of the burst with the good card, a few at a time."""

    def pay(pair: tuple[Account, str]) -> dict[str, Any]:
        customer, order_id = pair
        return shop.pay_ok(customer, order_id)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        payments = list(pool.map(pay, burst.orders))
    assert all(payment["status"] == "CAPTURED" for payment in payments), payments
    return payments


def place_and_pay(shop: Shop, count: int, customers: int = 3) -> Burst:
    burst = place_orders(shop, count, customers)
    pay_all(shop, burst)
    return burst


def deliveries_by_order(delivery_store: Redis) -> Counter[str]:
    """How many delivery records the delivery service's Redis holds per order id."""
    keys = [
        key for key in delivery_store.scan_iter(match="delivery:*", count=1000) if DELIVERY_KEY.fullmatch(key)
    ]
    records = delivery_store.mget(keys) if keys else []
    return Counter(json.loads(record)["orderId"] for record in records if record is not None)


def scheduled_events_by_order(events_redis: Redis) -> Counter[str]:
    """How many distinct delivery.scheduled events were published per order id
    (a relay may publish one event twice; consumers absorb that, so ids are counted once)."""
    seen: dict[str, str] = {}
    entries = cast(list[tuple[str, dict[str, str]]], events_redis.xrange(DELIVERY_STREAM))
    for _, fields in entries:
        event = json.loads(fields["event"])
        if event["type"] == "delivery.scheduled":
            seen[event["id"]] = event["data"]["orderId"]
    return Counter(seen.values())


def assert_one_delivery_each(shop: Shop, burst: Burst, delivery_store: Redis, events_redis: Redis) -> None:
    """Exactly one delivery per order: in the store, on the stream and through the graph.

    A delivery is stored together with its delivery.scheduled event in its outbox,
    and the relay publishes the event a moment later (longer after a Redis outage),
    so the stream is polled until every order has its one event. Streams only grow:
    an order with two distinct events would never come back to one."""
    expected = dict.fromkeys(burst.order_ids, 1)
    stored = deliveries_by_order(delivery_store)
    assert {order_id: stored[order_id] for order_id in burst.order_ids} == expected

    def published() -> dict[str, int]:
        counts = scheduled_events_by_order(events_redis)
        return {order_id: counts[order_id] for order_id in burst.order_ids}

    eventually(published, lambda counts: counts == expected, "one delivery.scheduled event per order")
    for customer in {customer.id: customer for customer, _ in burst.orders}.values():
        deliveries = shop.graph.execute(
            "{ me { deliveries { id order { id } } } }", token=customer.token
        ).ok()
        mine = Counter(d["order"]["id"] for d in deliveries["me"]["deliveries"])
        own_orders = [order_id for owner, order_id in burst.orders if owner.id == customer.id]
        assert {order_id: mine[order_id] for order_id in own_orders} == dict.fromkeys(own_orders, 1)
        assert sum(mine.values()) == len(own_orders), mine


def wait_until_all_delivered(shop: Shop, burst: Burst, deadline: float = 90.0) -> None:
    for customer, order_id in burst.orders:
        order = shop.wait_for_order(
            customer.token,
            order_id,
            lambda o: o["status"] == "PAID" and o["delivery"] is not None,
            "PAID with a delivery",
            deadline=deadline,
        )
        assert order["delivery"]["status"] == "SCHEDULED"


def charges_by_order(payments_db: Database[dict[str, Any]], order_ids: Iterable[str]) -> dict[str, list[str]]:
    """The statuses of every payment the payments service recorded, per order."""
    charges: dict[str, list[str]] = {order_id: [] for order_id in order_ids}
    for payment in payments_db["payments"].find({"orderId": {"$in": list(charges)}}):
        charges[payment["orderId"]].append(payment["status"])
    return charges
