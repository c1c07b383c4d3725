"""Delivery as two processes on one Redis: what a second replica must not break.

The test stack runs delivery twice (DELIVERY_PROCESSES=2 in tests/conftest.py):
the Apollo Router queries the first process and Apollo Gateway the second, so
every end-to-end suite already reads and writes through both. Both join the
consumer group "delivery" under their own consumer names and both relay the
one outbox. Here, what only two processes can show:
- with both consuming, each payment.captured is handled once: one delivery and
  one delivery.scheduled event per order, and both processes took a share;
- entries a consumer of the group had read but never acknowledged (it died)
  are claimed and handled by a live process.
"""

import re
from typing import cast

import httpx
import pytest
from redis import Redis

from e2e.shop import Shop
from faults.checks import (
    assert_one_delivery_each,
    deliveries_by_order,
    place_and_pay,
    wait_until_all_delivered,
)
from stack import DELIVERY_SECOND, Stack

BURST = 16
CONSUMED_STREAMS = ("shopgraph.events.payments", "shopgraph.events.orders")
CAPTURED_HANDLED = re.compile(
    r'^shopgraph_events_handled_total\{(?=[^}]*outcome="ok")(?=[^}]*type="payment\.captured")[^}]*\} (\S+)$',
    re.MULTILINE,
)


@pytest.fixture(autouse=True)
def two_delivery_processes(stack_control: Stack) -> tuple[str, ...]:
    processes = stack_control.config.processes("delivery")
    assert processes == ("delivery", DELIVERY_SECOND), "the test stack must run delivery twice"
    return processes


def captured_handled(stack: Stack, program: str) -> float:
    """How many payment.captured events the process has handled since it started."""
    metrics_url = stack.config.url(program).removesuffix("/graphql") + "/metrics"
    text = httpx.get(metrics_url, timeout=5.0).text
    return sum(float(value) for value in CAPTURED_HANDLED.findall(text))


def test_two_processes_share_the_events_and_handle_each_once(
    shop: Shop, stack_control: Stack, delivery_store: Redis, events_redis: Redis
) -> None:
    processes = stack_control.config.processes("delivery")
    before = {program: captured_handled(stack_control, program) for program in processes}

    burst = place_and_pay(shop, BURST)
    wait_until_all_delivered(shop, burst)

    assert_one_delivery_each(shop, burst, delivery_store, events_redis)
    shares = {program: captured_handled(stack_control, program) - before[program] for program in processes}
    assert sum(shares.values()) >= BURST, shares
    assert all(share > 0 for share in shares.values()), f"one process handled every event: {shares}"


def test_entries_a_dead_consumer_had_read_are_claimed_by_a_live_process(
    shop: Shop, stack_control: Stack, router_name: str, delivery_store: Redis, events_redis: Redis
) -> None:
    # The live process is the one this router reads deliveries from; the other stays down.
    claimant = stack_control.config.serving("delivery", router_name)
    [other] = [p for p in stack_control.config.processes("delivery") if p != claimant]
    stack_control.stop("delivery", DELIVERY_SECOND)
    try:
        burst = place_and_pay(shop, BURST)
        # A consumer of the group reads the burst and dies without acknowledging
        # anything: this test is that consumer, so the entries are surely left pending.
        read = cast(
            list[tuple[str, list[tuple[str, dict[str, str]]]]],
            events_redis.xreadgroup(
                "delivery", "a-consumer-that-died", dict.fromkeys(CONSUMED_STREAMS, ">"), count=1000
            ),
        )
        assert sum(len(entries) for _, entries in read) >= BURST, read
        stored = deliveries_by_order(delivery_store)
        assert sum(stored[order_id] for order_id in burst.order_ids) == 0

        stack_control.start(claimant)
        wait_until_all_delivered(shop, burst, deadline=120.0)
        assert stack_control.state(other) == "STOPPED"
    finally:
        stack_control.start("delivery", DELIVERY_SECOND)

    assert_one_delivery_each(shop, burst, delivery_store, events_redis)
    pending = {c["name"]: c["pending"] for c in events_redis.xinfo_consumers(CONSUMED_STREAMS[0], "delivery")}
    assert pending["a-consumer-that-died"] == 0, pending
