"""The delivery store's data layout, as documented (subgraphs/delivery/README.md links the table).

This is the part of the contract that lets two implementations replace each
other on the same data: the keys, their types and the JSON they hold. The
suite reads what an implementation wrote and writes records of its own for it
to read, both in exactly this layout.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, cast

import redis

OUTBOX = "delivery:outbox"
STATUSES = ("SCHEDULED", "IN_TRANSIT", "DELIVERED", "FAILED", "CANCELLED")
RECORD_FIELDS = {
    "id",
    "orderId",
    "recipientId",
    "status",
    "carrier",
    "trackingNumber",
    "address",
    "estimatedDelivery",
    "createdAt",
    "updatedAt",
}


def delivery(delivery_id: str) -> str:
    return f"delivery:{delivery_id}"


def tracking_events(delivery_id: str) -> str:
    return f"delivery:{delivery_id}:events"


def by_order(order_id: str) -> str:
    return f"delivery:by-order:{order_id}"


def by_tracking(tracking_number: str) -> str:
    return f"delivery:by-tracking:{tracking_number}"


def by_recipient(user_id: str) -> str:
    return f"delivery:by-recipient:{user_id}"


def applied_event(event_id: str) -> str:
    return f"delivery:applied-event:{event_id}"


def cancelled_order(order_id: str) -> str:
    return f"delivery:cancelled-order:{order_id}"


def record(store: redis.Redis, delivery_id: str) -> dict[str, Any]:
    raw = cast(str | None, store.get(delivery(delivery_id)))
    assert raw is not None, f"no {delivery(delivery_id)}"
    doc: dict[str, Any] = json.loads(raw)
    return doc


def record_for_order(store: redis.Redis, order_id: str) -> dict[str, Any] | None:
    delivery_id = cast(str | None, store.get(by_order(order_id)))
    return None if delivery_id is None else record(store, delivery_id)


def entries(store: redis.Redis, delivery_id: str) -> list[dict[str, Any]]:
    return [json.loads(raw) for raw in cast(list[str], store.lrange(tracking_events(delivery_id), 0, -1))]


def write(store: redis.Redis, doc: dict[str, Any], tracking: list[dict[str, Any]]) -> None:
    """Stores a delivery as any implementation would have: record, events and the three indexes."""
    with store.pipeline(transaction=True) as pipe:
        pipe.set(delivery(doc["id"]), json.dumps(doc))
        if tracking:
            pipe.rpush(tracking_events(doc["id"]), *[json.dumps(entry) for entry in tracking])
        pipe.set(by_order(doc["orderId"]), doc["id"])
        pipe.set(by_tracking(doc["trackingNumber"]), doc["id"])
        pipe.zadd(
            by_recipient(doc["recipientId"]),
            {doc["id"]: datetime.fromisoformat(doc["createdAt"]).timestamp()},
        )
        pipe.execute()


def snapshot(store: redis.Redis) -> dict[str, Any]:
    """Every key of the store with its value, to show that a refused change changed nothing."""
    state: dict[str, Any] = {}
    for key in cast(list[str], store.keys("*")):
        kind = store.type(key)
        if kind == "string":
            state[key] = store.get(key)
        elif kind == "list":
            state[key] = store.lrange(key, 0, -1)
        elif kind == "zset":
            state[key] = store.zrange(key, 0, -1, withscores=True)
        else:
            state[key] = kind
    return state
