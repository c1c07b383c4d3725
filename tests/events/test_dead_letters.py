"""Dead letters can be listed and replayed (scripts/dead_letters.py, `make dead-letters`).

A dead letter is written here as the consumer writes one (the original event
plus where it came from, its attempts and the reason), for an order payments
has not seen. Replayed, payments applies it, and the dead letters are empty.
"""

import json
import os
import subprocess
import time
import uuid
from typing import Any, cast

from dead_letters import DEAD_MARK
from pymongo.database import Database
from redis import Redis

from e2e.shop import Account, Shop
from stack import REPO_ROOT, Stack

ORDERS_STREAM = "shopgraph.events.orders"
DEAD_STREAM = f"{ORDERS_STREAM}{DEAD_MARK}payments"


def run(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "REDIS_URL": f"redis://127.0.0.1:{stack.config.ports['redis']}/0"}
    return subprocess.run(
        ["uv", "run", "--frozen", "python", "scripts/dead_letters.py", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def an_order_placed_payments_never_saw(shop: Shop, customer: Account, events_redis: Redis) -> dict[str, Any]:
    """A real order.placed from the stream, as another order (new event and order ids)."""
    placed = shop.place_order(customer)
    deadline = time.monotonic() + 30  # orders' outbox relay publishes it just after the write
    while time.monotonic() < deadline:
        entries = cast(list[tuple[str, dict[str, str]]], events_redis.xrevrange(ORDERS_STREAM, count=200))
        for _, fields in entries:
            event = json.loads(fields["event"])
            if event["type"] == "order.placed" and event["data"]["orderId"] == placed["id"]:
                return {
                    **event,
                    "id": uuid.uuid4().hex,
                    "data": {**event["data"], "orderId": uuid.uuid4().hex},
                }
        time.sleep(0.1)
    raise AssertionError("order.placed of the order just placed never reached the stream")


def test_a_dead_letter_is_listed_and_replayed_once(
    stack_control: Stack,
    shop: Shop,
    customer: Account,
    events_redis: Redis,
    payments_db: Database[dict[str, Any]],
) -> None:
    event = an_order_placed_payments_never_saw(shop, customer, events_redis)
    dead_id = str(
        events_redis.xadd(
            DEAD_STREAM,
            {
                "event": json.dumps(event),
                "source_stream": ORDERS_STREAM,
                "source_id": "0-1",
                "attempts": "20",
                "reason": "too many failed attempts",
            },
        )
    )

    listed = run(stack_control, "list")
    assert listed.returncode == 0, listed.stderr
    assert f"{ORDERS_STREAM} (group payments): 1" in listed.stdout
    assert (
        f"{dead_id}  order.placed {event['id']}  attempts=20  reason=too many failed attempts"
        in listed.stdout
    )

    replayed = run(stack_control, "replay", ORDERS_STREAM, "payments", "--all")
    assert replayed.returncode == 0, replayed.stderr
    assert events_redis.xlen(DEAD_STREAM) == 0

    order_id = event["data"]["orderId"]
    deadline = time.monotonic() + 30
    while payments_db.orders.find_one({"_id": order_id}) is None:
        assert time.monotonic() < deadline, "payments never applied the replayed event"
        time.sleep(0.1)
    assert run(stack_control, "replay", ORDERS_STREAM, "payments", "--all").returncode == 1  # nothing left
