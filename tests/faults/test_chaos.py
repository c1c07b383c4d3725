"""Chaos: customers shop while services are SIGKILLed and Redis restarts; then the stores agree.

For CHAOS_SECONDS (20 in `make test`; `make chaos` runs longer), customers
place orders, pay them (retrying with the same idempotency key, as a real
client does, through every error a crash causes) and sometimes cancel them.
Meanwhile a random process among orders, payments and delivery's (two in the
test stack) is SIGKILLed every few seconds (supervisord starts it again) and
Redis is restarted once.

Afterwards, once every program is healthy and the events have settled, the
stores themselves are read:
- every paid order has exactly one captured payment and exactly one live delivery;
- every cancelled order that was paid has exactly one full refund and no live delivery;
- every order with a payment is known to payments (no payment without its order);
- no outbox holds an event, no consumer group has anything pending or unread,
  and nothing was dead-lettered.
The simulated card processor keeps its ledger in the payments process's memory,
which a SIGKILL loses, so "no charge without its payment" is checked from the
payments' side only: a captured payment always names its order's projection.
"""

import json
import os
import random
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from pymongo.database import Database
from redis import Redis

from e2e.shop import CARD_OK, DEFAULT_ADDRESS, Account, Graph, Result, Shop, card, sign_in
from faults.checks import DELIVERY_KEY
from stack import Stack

CHAOS_SECONDS = float(os.environ.get("CHAOS_SECONDS", "20"))
CUSTOMERS = int(os.environ.get("CHAOS_CUSTOMERS", "4"))
KILL_EVERY_SECONDS = 4.0
VICTIM_SERVICES = ("orders", "payments", "delivery")
CANCEL_SHARE = 0.3
# Recovery settles an interrupted charge once it is STALE_PAYMENT_SECONDS (60) old, on
# its next round (every 30 s).
SETTLE_SECONDS = 180.0
PAID_STATUSES = {"PAID", "SHIPPED", "DELIVERED"}
LIVE_DELIVERY = {"SCHEDULED", "IN_TRANSIT", "DELIVERED"}


@dataclass
class Ledger:
    """What the customers were told, per order (for the report; the stores are the truth)."""

    placed: list[str] = field(default_factory=list)
    paid: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    retries: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def note(self, what: str, order_id: str) -> None:
        with self.lock:
            getattr(self, what).append(order_id)

    def retried(self, operation: str) -> None:
        with self.lock:
            self.retries[operation] += 1


def settled(result: Result, definitive_codes: set[str]) -> bool:
    """Whether a response is an answer (data, or an error no retry changes), not a crash's echo."""
    if result.status != 200:
        return False
    if not result.errors:
        return True
    for error in result.errors:
        if (error.get("extensions") or {}).get("retryable") or "still being processed" in error["message"]:
            return False
    return set(result.codes) <= definitive_codes


def until_settled(
    shop: Shop,
    customer: Account,
    operation: str,
    variables: dict[str, Any],
    definitive_codes: set[str],
    ledger: Ledger,
    deadline: float,
) -> Result | None:
    """Sends the operation, again and again with the same variables, until it is answered."""
    while time.monotonic() < deadline:
        try:
            result: Result | None = shop.graph.run(operation, variables, token=customer.token)
        except Exception:  # noqa: BLE001 - a connection torn down by a crash is what we retry through
            result = None
        if result is not None and settled(result, definitive_codes):
            return result
        ledger.retried(operation)
        time.sleep(0.2)
    return None


def shop_until(shop: Shop, customer: Account, stop_at: float, ledger: Ledger, rng: random.Random) -> None:
    give_up = stop_at + 60.0
    items = [{"sku": "PEN-GEL-12", "quantity": 1}]
    while time.monotonic() < stop_at:
        order_input = {"input": {"items": items, "shippingAddress": DEFAULT_ADDRESS}}
        placed = until_settled(shop, customer, "PlaceOrder", order_input, set(), ledger, give_up)
        if placed is None or placed.errors:
            continue
        order_id = str(placed.body["data"]["placeOrder"]["id"])
        ledger.note("placed", order_id)
        # One idempotency key for every attempt of this payment.
        payment = {"input": {"orderId": order_id, "card": card(CARD_OK), "idempotencyKey": uuid.uuid4().hex}}
        paid = until_settled(shop, customer, "PayOrder", payment, {"CONFLICT"}, ledger, give_up)
        if paid is not None and not paid.errors:
            ledger.note("paid", order_id)
        if rng.random() < CANCEL_SHARE:
            cancel = {"id": order_id}
            cancelled = until_settled(shop, customer, "CancelOrder", cancel, {"CONFLICT"}, ledger, give_up)
            if cancelled is not None and not cancelled.errors:
                ledger.note("cancelled", order_id)


def make_chaos(stack: Stack, stop_at: float, rng: random.Random, kills: Counter[str]) -> None:
    redis_restarted = False
    while time.monotonic() < stop_at:
        time.sleep(KILL_EVERY_SECONDS)
        if not redis_restarted and time.monotonic() > stop_at - CHAOS_SECONDS / 2:
            stack.restart("redis")
            redis_restarted = True
            kills["redis (restart)"] += 1
            continue
        victim = rng.choice([p for service in VICTIM_SERVICES for p in stack.config.processes(service)])
        if stack.state(victim) == "RUNNING":
            stack.kill(victim)
            kills[victim] += 1


def wait_until_settled(probe: Callable[[], dict[str, Any]], what: str) -> None:
    deadline = time.monotonic() + SETTLE_SECONDS
    while (left := probe()) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not left, f"{what} did not settle in {SETTLE_SECONDS:.0f}s: {left}"


def unsettled_events(events_redis: Redis) -> dict[str, Any]:
    """Consumer groups with anything pending or unread, and non-empty dead-letter streams."""
    left: dict[str, Any] = {}
    for stream in events_redis.scan_iter(match="shopgraph.events.*", _type="stream"):
        if ".dead." in stream:
            if events_redis.xlen(stream):
                left[stream] = events_redis.xlen(stream)
            continue
        for group in events_redis.xinfo_groups(stream):
            if group["pending"] or group["lag"]:
                left[f"{stream}/{group['name']}"] = (group["pending"], group["lag"])
    return left


def unpublished_outboxes(
    orders_db: Database[dict[str, Any]], payments_db: Database[dict[str, Any]], delivery_store: Redis
) -> dict[str, Any]:
    left: dict[str, Any] = {
        "orders": orders_db.orders.count_documents({"outboxPending": True}),
        "payments": payments_db.payments.count_documents({"outboxPending": True}),
        "delivery": delivery_store.llen("delivery:outbox"),
    }
    return {name: count for name, count in left.items() if count}


def pending_charges(payments_db: Database[dict[str, Any]]) -> dict[str, Any]:
    pending = payments_db.payments.count_documents({"status": "PENDING"})
    return {"PENDING payments": pending} if pending else {}


def live_deliveries(delivery_store: Redis) -> Counter[str]:
    keys = [
        key for key in delivery_store.scan_iter(match="delivery:*", count=1000) if DELIVERY_KEY.fullmatch(key)
    ]
    records = [json.loads(raw) for raw in (delivery_store.mget(keys) if keys else []) if raw is not None]
    return Counter(record["orderId"] for record in records if record["status"] in LIVE_DELIVERY)


@pytest.fixture(scope="module")
def router_shop(stack_control: Stack) -> Iterator[Shop]:
    """Customers through the first router of the test stack only: the chaos is in the services."""
    config = stack_control.config
    with httpx.Client(timeout=60.0) as client:
        graph = Graph(config.url(config.routers[0]), client)
        yield Shop(graph=graph, admin=sign_in(graph, config.admin_email, config.admin_password))


def test_shopping_through_crashes_leaves_the_stores_consistent(
    router_shop: Shop,
    stack_control: Stack,
    orders_db: Database[dict[str, Any]],
    payments_db: Database[dict[str, Any]],
    delivery_store: Redis,
    events_redis: Redis,
) -> None:
    rng = random.Random(int(os.environ.get("CHAOS_SEED", str(time.time_ns()))))
    shop = router_shop
    customers = [shop.register(f"Chaos Customer {n}") for n in range(CUSTOMERS)]
    ledger, kills = Ledger(), Counter[str]()
    stop_at = time.monotonic() + CHAOS_SECONDS
    with ThreadPoolExecutor(max_workers=CUSTOMERS + 1) as pool:
        chaos = pool.submit(make_chaos, stack_control, stop_at, random.Random(rng.random()), kills)
        shoppers = [
            pool.submit(shop_until, shop, customer, stop_at, ledger, random.Random(rng.random()))
            for customer in customers
        ]
        chaos.result()
        for shopper in shoppers:
            shopper.result()
    for program in ("redis", *stack_control.config.subgraph_programs):
        stack_control.wait_healthy(program)

    wait_until_settled(lambda: unpublished_outboxes(orders_db, payments_db, delivery_store), "the outboxes")
    # A charge a killed payments process left PENDING is settled by recovery once stale.
    wait_until_settled(
        lambda: (
            {"pending": payments_db.payments.count_documents({"status": "PENDING"})}
            if payments_db.payments.count_documents({"status": "PENDING"})
            else {}
        ),
        "interrupted charges",
    )
    wait_until_settled(lambda: unpublished_outboxes(orders_db, payments_db, delivery_store), "the outboxes")
    wait_until_settled(lambda: unsettled_events(events_redis), "the event streams")
    print(
        f"\nchaos: {len(ledger.placed)} orders placed, {len(ledger.paid)} paid, {len(ledger.cancelled)} "
        f"cancelled; kills {dict(kills)}; retries {dict(ledger.retries)}"
    )
    assert sum(kills.values()) >= 2, kills
    assert ledger.paid, "no order was paid: the chaos test tested nothing"

    customer_ids = [customer.id for customer in customers]
    orders = list(orders_db.orders.find({"customerId": {"$in": customer_ids}}, {"status": 1}))
    payments_by_order: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for payment in payments_db.payments.find({"payerId": {"$in": customer_ids}}):
        payments_by_order[payment["orderId"]].append(payment)
    known = {order["_id"] for order in payments_db.orders.find({"_id": {"$in": list(payments_by_order)}})}
    problems = [
        f"payment of {order_id} without its order" for order_id in payments_by_order if order_id not in known
    ]
    deliveries = live_deliveries(delivery_store)

    for order in orders:
        order_id, status = order["_id"], order["status"]
        captured = [
            p
            for p in payments_by_order.get(order_id, [])
            if p["status"] != "FAILED" and p["status"] != "PENDING"
        ]
        if status in PAID_STATUSES:
            if len(captured) != 1 or captured[0]["status"] != "CAPTURED":
                problems.append(f"paid order {order_id}: payments {[p['status'] for p in captured]}")
            if deliveries[order_id] != 1:
                problems.append(f"paid order {order_id}: {deliveries[order_id]} live deliveries")
        if status == "CANCELLED" and captured:
            refunds = [refund for p in captured for refund in p["refunds"]]
            full = len(captured) == 1 and captured[0]["status"] == "REFUNDED" and len(refunds) == 1
            if not full or refunds[0]["amount"] != captured[0]["amount"]["amount"]:
                problems.append(f"cancelled order {order_id}: payments {captured}")
            if deliveries[order_id]:
                problems.append(f"cancelled order {order_id}: {deliveries[order_id]} live deliveries")
    assert not problems, "\n".join(problems[:30])
