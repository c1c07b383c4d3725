"""Fault isolation (5): the embedded MongoDB store restarts while customers shop.

Shoppers place orders and read them back without pause while FerretDB is
restarted under them. While it is away, an operation that needs it is refused
with SERVICE_UNAVAILABLE and `retryable: true`, never an internal error, so a
client knows to retry. Once FerretDB answers again, the services use it again
at once: they are not left refusing with a paused connection pool until someone
restarts them. No order that was confirmed is lost.
"""

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest

from e2e.shop import Account, Result, Shop
from stack import Stack

SHOPPERS = 12
BEFORE_SECONDS = 3.0
# Once FerretDB listens again, the services must serve again within this long (a
# bounded wait for recovery, not a speed target), then keep serving for AFTER_SECONDS.
# With the driver's default 10 s heartbeat, refusals went on for 9 to 14 s after
# FerretDB was back (35 to 45 s under the bench's 32 shoppers); with shopkit.mongo's
# 1 s they ended within 3 s here, and took longer than 8 s on a machine busy with
# other work.
RECOVERY_SECONDS = 20.0
AFTER_SECONDS = 10.0


@dataclass
class Outcome:
    at: float
    codes: list[str]
    retryable: bool


@dataclass
class Journal:
    """What every attempt of every shopper got back, and the orders confirmed to them."""

    outcomes: list[Outcome] = field(default_factory=list)
    confirmed: list[tuple[Account, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, result: Result, customer: Account, key: str) -> None:
        retryable = all(e.get("extensions", {}).get("retryable") is True for e in result.errors)
        with self.lock:
            self.outcomes.append(Outcome(time.monotonic(), result.codes, retryable))
            if not result.errors and result.data is not None:
                self.confirmed.append((customer, str(result.data[key]["id"])))


def shop_until(shop: Shop, customer: Account, stop: threading.Event, journal: Journal) -> None:
    variables = {
        "input": {
            "items": [{"sku": "NB-DOT-A5", "quantity": 1}],
            "shippingAddress": {
                "line1": "4 Restart Row",
                "line2": None,
                "city": "Springfield",
                "postalCode": "12345",
                "country": "US",
            },
        }
    }
    while not stop.is_set():
        placed = shop.graph.run("PlaceOrder", variables, token=customer.token)
        journal.record(placed, customer, "placeOrder")
        if not placed.errors and placed.data is not None:
            order_id = placed.data["placeOrder"]["id"]
            journal.record(shop.order(customer.token, order_id, "OrderSummary"), customer, "order")


@pytest.fixture
def shoppers(shop: Shop) -> list[Account]:
    return [shop.register(f"Restart Shopper {n}") for n in range(SHOPPERS)]


@pytest.fixture
def running_stack(stack_control: Stack) -> Iterator[Stack]:
    yield stack_control
    stack_control.start("ferretdb")


def test_a_restarted_store_is_refused_retryably_and_used_again_at_once(
    shop: Shop, shoppers: list[Account], running_stack: Stack
) -> None:
    journal, stop = Journal(), threading.Event()
    with ThreadPoolExecutor(max_workers=SHOPPERS) as pool:
        workers = [pool.submit(shop_until, shop, customer, stop, journal) for customer in shoppers]
        try:
            time.sleep(BEFORE_SECONDS)
            running_stack.restart("ferretdb")
            back_at = time.monotonic()
            time.sleep(RECOVERY_SECONDS + AFTER_SECONDS)
        finally:
            stop.set()
        for worker in workers:
            worker.result()

    failures = [o for o in journal.outcomes if o.codes]
    assert failures, "nothing failed while FerretDB was away: the test did not restart it under load"
    assert all(o.codes == ["SERVICE_UNAVAILABLE"] and o.retryable for o in failures), {
        (tuple(o.codes), o.retryable) for o in failures
    }
    late = [o for o in failures if o.at > back_at + RECOVERY_SECONDS]
    settled = [o for o in journal.outcomes if o.at > back_at + RECOVERY_SECONDS]
    assert settled, "no shopper got an answer after the recovery window"
    assert not late, (
        f"{len(late)} of {len(settled)} operations still failed {RECOVERY_SECONDS:.0f}s after restart"
    )

    for customer, order_id in journal.confirmed:
        assert shop.order(customer.token, order_id, "OrderSummary").ok()["order"]["id"] == order_id
