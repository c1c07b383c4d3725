"""Grows the seeded data set by copying orders the API produced to other customers.

Placing and paying 10,000 orders through the API takes hours here: FerretDB 1.24
reads a whole collection for every query (docs/performance.md), and each order
is several queries in three services. So the seed runs the first wave of orders
through the API (placeOrder, payOrder, the events, the deliveries, status
updates) and then copies those orders, with everything the services stored for
them, to the remaining customers:

- orders: the order document;
- payments: its order projection, its payments, their idempotency keys;
- delivery: the delivery, its tracking events and its three index keys.

Copies are the services' own documents, so their shape is whatever the services
write; only identities change. Every uuid4-hex string in them (order, payment,
delivery and event ids, trace ids) becomes a fresh one, the template customer's
id becomes the new customer's, and each copy gets a fresh tracking number and
the next order number. Timestamps are kept. Outboxes are emptied: a copy's
events were never published and never will be.
"""

import re
import secrets
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC
from typing import Any, cast

from bson import json_util
from bson.json_util import CANONICAL_JSON_OPTIONS
from pymongo import MongoClient, ReturnDocument
from redis import Redis

# Mirrors of the services' storage names (subgraphs/*/src/*/store.py). A copy that
# does not match what a service reads shows up in the seed's check through the API.
ORDER_NUMBER_COUNTER = "orderNumber"
ORDER_NUMBER_PREFIX = "SG-"
TRACKING_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

_UUID_HEX = re.compile(r"(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])")
_TRACKING_NUMBER = re.compile(r"(?<![A-Z0-9])SG[A-Z2-7]{16}(?![A-Z0-9])")
INSERT_CHUNK = 500
# Types survive the round trip through text exactly (Int32 vs Int64, aware datetimes).
JSON_OPTIONS = CANONICAL_JSON_OPTIONS.with_options(tz_aware=True, tzinfo=UTC)
OUTBOX_PENDING_FLAG = "outboxPending"  # shopkit.events.outbox: set while the outbox has events
DELIVERY_OUTBOX = "delivery:outbox"
EVENT_STREAM_PREFIX = "shopgraph.events."


# The delivery service's keys (its store.py documents the layout).
RECORD_KEY = "delivery:{}"
EVENTS_KEY = "delivery:{}:events"
BY_ORDER_KEY = "delivery:by-order:{}"
BY_TRACKING_KEY = "delivery:by-tracking:{}"
BY_RECIPIENT_KEY = "delivery:by-recipient:{}"


def new_tracking_number() -> str:
    return "SG" + "".join(secrets.choice(TRACKING_ALPHABET) for _ in range(16))


@dataclass(frozen=True)
class DeliveryRecord:
    """The delivery service's keys for one order, as stored."""

    id: str
    json: str
    events: list[str]
    tracking_number: str
    score: float


@dataclass(frozen=True)
class OrderBundle:
    """Everything the services stored for one order."""

    order_id: str
    customer_id: str
    number: str
    order: dict[str, Any]
    projection: dict[str, Any] | None
    payments: list[dict[str, Any]]
    idempotency_keys: list[dict[str, Any]]
    delivery: DeliveryRecord | None

    def to_text(self) -> str:
        return str(json_util.dumps(self._parts(), json_options=JSON_OPTIONS))

    def _parts(self) -> dict[str, Any]:
        return {
            "order": self.order,
            "projection": self.projection,
            "payments": self.payments,
            "idempotencyKeys": self.idempotency_keys,
            "delivery": None
            if self.delivery is None
            else {
                "id": self.delivery.id,
                "json": self.delivery.json,
                "events": self.delivery.events,
                "trackingNumber": self.delivery.tracking_number,
                "score": self.delivery.score,
            },
        }

    @classmethod
    def from_text(cls, text: str) -> "OrderBundle":
        parts = json_util.loads(text, json_options=JSON_OPTIONS)
        order = parts["order"]
        delivery = parts["delivery"]
        return cls(
            order_id=order["_id"],
            customer_id=order["customerId"],
            number=order["number"],
            order=order,
            projection=parts["projection"],
            payments=parts["payments"],
            idempotency_keys=parts["idempotencyKeys"],
            delivery=None
            if delivery is None
            else DeliveryRecord(
                id=delivery["id"],
                json=delivery["json"],
                events=delivery["events"],
                tracking_number=delivery["trackingNumber"],
                score=delivery["score"],
            ),
        )


def renamed(text: str, kept_ids: Mapping[str, str], number: str, new_number: str) -> str:
    """`text` with fresh identities: ids in `kept_ids` map as given, every other one is new."""
    fresh: dict[str, str] = dict(kept_ids)

    def new_id(match: re.Match[str]) -> str:
        return fresh.setdefault(match.group(0), uuid.uuid4().hex)

    tracking: dict[str, str] = {}

    def new_tracking(match: re.Match[str]) -> str:
        return tracking.setdefault(match.group(0), new_tracking_number())

    text = _UUID_HEX.sub(new_id, text)
    text = _TRACKING_NUMBER.sub(new_tracking, text)
    return re.sub(re.escape(number) + r"(?!\d)", new_number, text)


def copy_of(
    template: OrderBundle, customer_id: str, new_number: str, user_ids: frozenset[str]
) -> OrderBundle:
    """A copy of `template` for `customer_id`: user ids stay users (the template customer's
    becomes the new customer), every other id is fresh."""
    kept = {user_id: user_id for user_id in user_ids}
    kept[template.customer_id] = customer_id
    copy = OrderBundle.from_text(renamed(template.to_text(), kept, template.number, new_number))
    for document in (copy.order, *copy.payments):
        document["outbox"] = []
        document.pop(OUTBOX_PENDING_FLAG, None)
    return copy


class Stores:
    """The bench stack's stores, written directly (the services are idle meanwhile)."""

    def __init__(self, mongodb_uri: str, delivery_redis_url: str, events_redis_url: str) -> None:
        self._mongo: MongoClient[dict[str, Any]] = MongoClient(mongodb_uri)
        self._redis = Redis.from_url(delivery_redis_url, decode_responses=True)
        self._events = Redis.from_url(events_redis_url, decode_responses=True)
        self._orders = self._mongo["orders"]
        self._payments = self._mongo["payments"]

    def close(self) -> None:
        self._mongo.close()
        self._redis.close()
        self._events.close()

    def unsettled(self) -> dict[str, int]:
        """Events not yet published (outboxes) or not yet handled (stream groups' lag and pending)."""
        waiting = {
            "orders outbox": self._orders["orders"].count_documents({OUTBOX_PENDING_FLAG: True}),
            "payments outbox": self._payments["payments"].count_documents({OUTBOX_PENDING_FLAG: True}),
            "delivery outbox": int(self._redis.llen(DELIVERY_OUTBOX)),
        }
        for stream in self._events.scan_iter(match=f"{EVENT_STREAM_PREFIX}*", _type="stream"):
            for group in self._events.xinfo_groups(stream):
                waiting[f"{stream} -> {group['name']}"] = int(group["pending"]) + int(group.get("lag") or 0)
        return {name: count for name, count in waiting.items() if count}

    def read_bundles(self, order_ids: Sequence[str]) -> list[OrderBundle]:
        ids = list(order_ids)
        orders = {doc["_id"]: doc for doc in self._orders["orders"].find({"_id": {"$in": ids}})}
        projections = {doc["_id"]: doc for doc in self._payments["orders"].find({"_id": {"$in": ids}})}
        payments = _grouped(self._payments["payments"].find({"orderId": {"$in": ids}}), "orderId")
        keys = _grouped(self._payments["idempotency_keys"].find({"orderId": {"$in": ids}}), "orderId")
        bundles = []
        for order_id in ids:
            if order_id not in orders:
                continue
            order = orders[order_id]
            bundles.append(
                OrderBundle(
                    order_id=order_id,
                    customer_id=order["customerId"],
                    number=order["number"],
                    order=order,
                    projection=projections.get(order_id),
                    payments=payments.get(order_id, []),
                    idempotency_keys=keys.get(order_id, []),
                    delivery=self._read_delivery(order_id, order["customerId"]),
                )
            )
        return bundles

    def _read_delivery(self, order_id: str, customer_id: str) -> DeliveryRecord | None:
        # decode_responses=True: every reply is a str.
        delivery_id = cast(str | None, self._redis.get(BY_ORDER_KEY.format(order_id)))
        if delivery_id is None:
            return None
        record = cast(str | None, self._redis.get(RECORD_KEY.format(delivery_id)))
        if record is None:
            return None
        events = cast(list[str], self._redis.lrange(EVENTS_KEY.format(delivery_id), 0, -1))
        score = self._redis.zscore(BY_RECIPIENT_KEY.format(customer_id), delivery_id)
        tracking = _TRACKING_NUMBER.search(record)
        if tracking is None or score is None:
            raise ValueError(f"delivery {delivery_id} is not stored as expected")
        return DeliveryRecord(delivery_id, record, events, tracking.group(0), float(score))

    def reserve_order_numbers(self, count: int) -> list[str]:
        """The next `count` order numbers, taken from the orders service's own counter."""
        counter = self._orders["counters"].find_one_and_update(
            {"_id": ORDER_NUMBER_COUNTER},
            {"$inc": {"value": count}},
            return_document=ReturnDocument.AFTER,
            upsert=True,
        )
        assert counter is not None, "an upsert always returns the document"
        last = int(counter["value"])
        return [f"{ORDER_NUMBER_PREFIX}{sequence:06d}" for sequence in range(last - count + 1, last + 1)]

    def write(self, copies: Sequence[OrderBundle]) -> None:
        for start in range(0, len(copies), INSERT_CHUNK):
            chunk = copies[start : start + INSERT_CHUNK]
            self._insert(self._orders["orders"], [c.order for c in chunk])
            self._insert(self._payments["orders"], [c.projection for c in chunk if c.projection])
            self._insert(self._payments["payments"], [p for c in chunk for p in c.payments])
            self._insert(self._payments["idempotency_keys"], [k for c in chunk for k in c.idempotency_keys])
            with self._redis.pipeline(transaction=False) as pipe:
                for copy in chunk:
                    if copy.delivery is not None:
                        _write_delivery(pipe, copy.order_id, copy.customer_id, copy.delivery)
                pipe.execute()

    @staticmethod
    def _insert(collection: Any, documents: list[dict[str, Any]]) -> None:
        if documents:
            collection.insert_many(documents, ordered=False)


def _write_delivery(pipe: Any, order_id: str, customer_id: str, delivery: DeliveryRecord) -> None:
    pipe.set(RECORD_KEY.format(delivery.id), delivery.json)
    if delivery.events:
        pipe.rpush(EVENTS_KEY.format(delivery.id), *delivery.events)
    pipe.set(BY_ORDER_KEY.format(order_id), delivery.id)
    pipe.set(BY_TRACKING_KEY.format(delivery.tracking_number), delivery.id)
    pipe.zadd(BY_RECIPIENT_KEY.format(customer_id), {delivery.id: delivery.score})


def _grouped(documents: Iterable[dict[str, Any]], key: str) -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for document in documents:
        groups.setdefault(document[key], []).append(document)
    return groups


def clone_orders(
    stores: Stores,
    templates: Sequence[OrderBundle],
    plan: Sequence[tuple[str, int, int]],
    user_ids: frozenset[str],
    on_copy: Callable[[str, int, OrderBundle, OrderBundle], None],
) -> int:
    """Copies templates to each (customer id, order count, first global index) of `plan`.

    The order with global index g copies `templates[g % len(templates)]`, so the
    mix of states (paid, declined, re-paid, in transit, delivered) carries over.
    `on_copy(customer_id, global_index, template, copy)` is told of each copy.
    """
    total = sum(count for _, count, _ in plan)
    numbers = iter(stores.reserve_order_numbers(total))
    copies: list[OrderBundle] = []
    for customer_id, count, first in plan:
        for global_index in range(first, first + count):
            template = templates[global_index % len(templates)]
            copy = copy_of(template, customer_id, next(numbers), user_ids)
            copies.append(copy)
            on_copy(customer_id, global_index, template, copy)
    stores.write(copies)
    return len(copies)
