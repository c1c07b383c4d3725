"""All MongoDB access of the orders service: queries, updates, indexes.

Collections:
- `products`: `{_id: sku, name, price: {amount, currency}}`
- `orders`: `{_id, number, customerId, customerSeq, customerBucket, status, items,
  total, shippingAddress, createdAt, updatedAt, history, appliedEvents, outbox}`
- `counters`: `{_id: name, value}`: the sequence behind order numbers (reserved in
  blocks), and one per customer behind `customerSeq` (`customer:<id>`)
- `migrations`: `{_id: name, at, ...}`, the one-off data migrations done

A customer's orders are numbered 1, 2, 3... as they are placed (`customerSeq`)
and grouped by tens (`customerBucket`), so that a page of the newest is read by
equality lookups only (`shopkit.history`).

Reads use the pool of `shopkit.mongo.MongoDB`, writes its write client: the
conditional updates below (cancel only from a cancellable status, apply an
event only once) rely on single-document atomicity, which the embedded store
gives only that way (docs/architecture.md, "The embedded store").

Every value in a filter comes from our own code or is a plain string the
client sent, never a document the client sent, so no operator can be smuggled in.

Nothing outside this module sees a document: reads return the records below
(`from_doc`), writes take them (`to_doc`), and the stored format is theirs.
"""

import asyncio
import enum
import logging
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, ReturnDocument, UpdateOne

from shopkit.events.envelope import Event
from shopkit.events.outbox import (
    PENDING_FLAG,
    Entries,
    OutboxWritten,
    nobody_notified,
    outbox_entries,
    outbox_flag,
    outbox_push,
)
from shopkit.history import Histories, History, reserve
from shopkit.metrics import store_call
from shopkit.mongo import Collection, Database, Document, MongoDB
from shopkit.pagination import Cursor
from shopkit.records import Amount, StoredAddress
from shopkit.types import utc

log = logging.getLogger(__name__)

# What GraphQL reads of an order: the bookkeeping arrays stay in the store.
ORDER_FIELDS = {"outbox": 0, "outboxPending": 0, "appliedEvents": 0}
ORDER_NUMBER_COUNTER = "orderNumber"
ORDER_NUMBER_BLOCK = 100
CUSTOMER_HISTORY = History(
    collection="orders",
    owner_field="customerId",
    seq_field="customerSeq",
    bucket_field="customerBucket",
    counter_prefix="customer",
)
# Records that every order stored before customer positions existed has been given one.
POSITIONS_MIGRATION = CUSTOMER_HISTORY.migration_id
# Every field a document is looked up by with equality (docs/architecture.md, "Query shapes").
EQUALITY_FIELDS = {
    "products": ("_id",),
    "orders": ("_id", "customerBucket", PENDING_FLAG),
    "counters": ("_id",),
    "migrations": ("_id",),
}


class OrderStatus(enum.Enum):
    """Where an order is in its lifecycle, stored as its value (its moves: `orders.rules`)."""

    PENDING_PAYMENT = "PENDING_PAYMENT"
    PAID = "PAID"
    SHIPPED = "SHIPPED"
    DELIVERED = "DELIVERED"
    CANCELLED = "CANCELLED"
    PAYMENT_FAILED = "PAYMENT_FAILED"


@dataclass(frozen=True)
class ProductRecord:
    sku: str
    name: str
    price: Amount

    def to_doc(self) -> Document:
        return {"_id": self.sku, "name": self.name, "price": self.price.to_doc()}

    @classmethod
    def from_doc(cls, doc: Document) -> "ProductRecord":
        return cls(sku=doc["_id"], name=doc["name"], price=Amount.from_doc(doc["price"]))


@dataclass(frozen=True)
class OrderLine:
    """A line of an order, priced when the order was placed."""

    sku: str
    name: str
    quantity: int
    unit_price: Amount

    def to_doc(self) -> Document:
        return {
            "sku": self.sku,
            "name": self.name,
            "quantity": self.quantity,
            "unitPrice": self.unit_price.to_doc(),
        }

    @classmethod
    def from_doc(cls, doc: Document) -> "OrderLine":
        return cls(
            sku=doc["sku"],
            name=doc["name"],
            quantity=int(doc["quantity"]),
            unit_price=Amount.from_doc(doc["unitPrice"]),
        )


@dataclass(frozen=True)
class HistoryEntry:
    """A status an order reached, when, and the event that moved it there."""

    status: OrderStatus
    at: datetime
    event: str | None
    event_id: str | None = None  # the id of that event, for one this service produced or consumed

    def to_doc(self) -> Document:
        doc: Document = {"status": self.status.value, "at": self.at, "event": self.event}
        if self.event_id is not None:
            doc["eventId"] = self.event_id
        return doc

    @classmethod
    def from_doc(cls, doc: Document) -> "HistoryEntry":
        return cls(
            status=OrderStatus(doc["status"]),
            at=utc(doc["at"]),
            event=doc.get("event"),
            event_id=doc.get("eventId"),
        )


@dataclass(frozen=True)
class OrderRecord:
    """An order as GraphQL and the events see it: the bookkeeping arrays stay in the store."""

    id: str
    number: str
    customer_id: str
    # Its place in its customer's history: 1 for their first order (see the module's docstring).
    customer_seq: int
    status: OrderStatus
    items: tuple[OrderLine, ...]
    total: Amount
    shipping_address: StoredAddress
    created_at: datetime
    updated_at: datetime
    history: tuple[HistoryEntry, ...]

    def to_doc(self) -> Document:
        """The order as first stored, without its position, outbox and applied events."""
        return {
            "_id": self.id,
            "number": self.number,
            "customerId": self.customer_id,
            "status": self.status.value,
            "items": [item.to_doc() for item in self.items],
            "total": self.total.to_doc(),
            "shippingAddress": dict(self.shipping_address),
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "history": [entry.to_doc() for entry in self.history],
        }

    @classmethod
    def from_doc(cls, doc: Document) -> "OrderRecord":
        return cls(
            id=doc["_id"],
            number=doc["number"],
            customer_id=doc["customerId"],
            customer_seq=doc["customerSeq"],
            status=OrderStatus(doc["status"]),
            items=tuple(OrderLine.from_doc(item) for item in doc["items"]),
            total=Amount.from_doc(doc["total"]),
            shipping_address=dict(doc["shippingAddress"]),
            created_at=utc(doc["createdAt"]),
            updated_at=utc(doc["updatedAt"]),
            history=tuple(HistoryEntry.from_doc(entry) for entry in doc.get("history", [])),
        )


@dataclass(frozen=True)
class OrderState:
    """Only what an event handler decides on."""

    status: OrderStatus
    applied_events: frozenset[str]


def _new_order_doc(order: OrderRecord) -> Document:
    return {**order.to_doc(), "appliedEvents": []}


def utc_now() -> datetime:
    """Now, at the millisecond precision MongoDB stores, so cursors compare equal."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


class _Collections:
    def __init__(self, database: Database) -> None:
        self.products: Collection = database["products"]
        self.orders: Collection = database["orders"]


class OrderStore:
    def __init__(self, mongo: MongoDB, outbox_written: OutboxWritten = nobody_notified) -> None:
        self._mongo = mongo
        self._read = _Collections(mongo.reads)
        # Told of every write that pushed events (the outbox relay, to publish them at once).
        self._outbox_written = outbox_written
        self._histories = Histories(mongo, CUSTOMER_HISTORY)
        self._numbers: deque[int] = deque()
        self._numbers_lock = asyncio.Lock()

    def _write(self, document_id: object) -> _Collections:
        """The collections on the write connection of this document (shopkit.mongo.MongoDB.writes_for)."""
        return _Collections(self._mongo.writes_for(document_id))

    async def open(self) -> None:
        """Connects to the server and creates every index (safe to run at every start)."""
        await self._mongo.open(EQUALITY_FIELDS)
        orders = self._mongo.writes.orders
        await orders.create_index("customerBucket", name="customer_bucket")
        await orders.create_index("number", unique=True, name="unique_number")
        await orders.create_index(PENDING_FLAG, sparse=True, name="outbox_pending")
        await self._histories.position_unpositioned()

    async def close(self) -> None:
        await self._mongo.close()

    # -- products ---------------------------------------------------------------

    @store_call
    async def upsert_products(self, products: Sequence[ProductRecord]) -> None:
        """Creates or refreshes catalog entries by SKU (safe to run at every start)."""
        writes = [
            UpdateOne(
                {"_id": product.sku},
                {"$set": {field: value for field, value in product.to_doc().items() if field != "_id"}},
                upsert=True,
            )
            for product in products
        ]
        if writes:
            # At start, before any request: nothing races with it.
            await self._mongo.writes.products.bulk_write(writes, ordered=False)

    @store_call
    async def all_products(self) -> list[ProductRecord]:
        """The whole catalog (a few dozen products), read once at start (`orders.catalog`)."""
        found = await self._read.products.find({}).sort("name", ASCENDING).to_list()
        return [ProductRecord.from_doc(doc) for doc in found]

    # -- orders: reads ----------------------------------------------------------

    @store_call
    async def orders_by_id(self, order_ids: Sequence[str]) -> dict[str, OrderRecord]:
        found = await self._mongo.find_by_ids(self._read.orders, order_ids, ORDER_FIELDS)
        return {order_id: OrderRecord.from_doc(doc) for order_id, doc in found.items()}

    @store_call
    async def order_state(self, order_id: str) -> OrderState | None:
        doc = await self._read.orders.find_one({"_id": order_id}, {"status": 1, "appliedEvents": 1})
        if doc is None:
            return None
        return OrderState(
            status=OrderStatus(doc["status"]), applied_events=frozenset(doc.get("appliedEvents", []))
        )

    @store_call
    async def customer_order_pages(
        self, customer_ids: Sequence[str], limit: int, after: Cursor | None
    ) -> dict[str, list[OrderRecord]]:
        """Up to `limit` orders of each customer, newest placed first, placed before the cursor's order."""
        pages = await self._histories.pages(customer_ids, limit, after.id if after else None, ORDER_FIELDS)
        return {
            customer_id: [OrderRecord.from_doc(doc) for doc in page] for customer_id, page in pages.items()
        }

    # -- orders: writes ---------------------------------------------------------

    async def next_order_sequence(self) -> int:
        """The next order number: from this process's block, reserving a new block when it is used up.

        One counter document behind every order would serialize all of them on
        its write connection; a block costs one update per `ORDER_NUMBER_BLOCK`
        orders. Numbers stay unique, increase within a process, and a restart
        skips what was left of its block.
        """
        async with self._numbers_lock:
            if not self._numbers:
                last = await self._reserve_order_sequences(ORDER_NUMBER_BLOCK)
                self._numbers = deque(range(last - ORDER_NUMBER_BLOCK + 1, last + 1))
            return self._numbers.popleft()

    @store_call
    async def _reserve_order_sequences(self, count: int) -> int:
        """Reserves `count` order numbers; returns the last of them."""
        return await reserve(self._mongo, ORDER_NUMBER_COUNTER, count)

    @store_call
    async def next_customer_position(self, customer_id: str) -> int:
        """Reserves the place of the customer's next order in their history (`customer_seq`)."""
        return await self._histories.reserve_position(customer_id)

    @store_call
    async def insert_order(self, order: OrderRecord, event: Event) -> None:
        """Stores a new order at its place in its customer's history, with its `order.placed` event in
        its outbox."""
        await self._write(order.id).orders.insert_one(
            {
                **_new_order_doc(order),
                **CUSTOMER_HISTORY.position(order.customer_id, order.customer_seq),
                "outbox": [event.to_doc()],
                **outbox_flag(),
            }
        )
        self._outbox_written(Entries(order.id, [event.to_doc()]))

    @store_call
    async def import_orders(self, orders: Sequence[OrderRecord]) -> None:
        """Stores orders placed elsewhere (a data set being loaded), without events.

        Each takes the next position of its customer, in the order given, in place
        of its `customer_seq`.
        """
        positioned = await self._histories.positioned([_new_order_doc(order) for order in orders])
        if positioned:
            # New documents only: no other write can race with these inserts.
            await self._mongo.writes.orders.insert_many(positioned, ordered=False)

    @store_call
    async def cancel_order(
        self,
        order_id: str,
        cancellable: Iterable[OrderStatus],
        history_entry: HistoryEntry,
        event: Event,
        now: datetime,
    ) -> OrderRecord | None:
        """Cancels the order if its status still allows it; None if it no longer does."""
        cancelled = await self._write(order_id).orders.find_one_and_update(
            {"_id": order_id, "status": {"$in": [status.value for status in cancellable]}},
            {
                "$set": {"status": OrderStatus.CANCELLED.value, "updatedAt": now, **outbox_flag()},
                "$push": {"history": history_entry.to_doc(), **outbox_push(event)},
            },
            return_document=ReturnDocument.AFTER,
        )
        if cancelled is None:
            return None
        self._outbox_written(outbox_entries(cancelled))
        return OrderRecord.from_doc(cancelled)

    @store_call
    async def ship_order(
        self, order_id: str, shippable: Iterable[OrderStatus], history_entry: HistoryEntry, now: datetime
    ) -> OrderRecord | None:
        """Marks the order SHIPPED if its status still allows it; None if it no longer does."""
        shipped = await self._write(order_id).orders.find_one_and_update(
            {"_id": order_id, "status": {"$in": [status.value for status in shippable]}},
            {
                "$set": {"status": OrderStatus.SHIPPED.value, "updatedAt": now},
                "$push": {"history": history_entry.to_doc()},
            },
            return_document=ReturnDocument.AFTER,
        )
        return None if shipped is None else OrderRecord.from_doc(shipped)

    @store_call
    async def apply_event(
        self,
        order_id: str,
        event_id: str,
        expected: OrderStatus,
        new_status: OrderStatus,
        history_entry: HistoryEntry | None,
        now: datetime,
    ) -> bool:
        """Records a consumed event (and its status change, if any) exactly once.

        False when the order is no longer in `expected` status or the event was
        already applied: the caller reads the order again and decides anew.
        """
        push: dict[str, Any] = {"appliedEvents": event_id}
        if history_entry is not None:
            push["history"] = history_entry.to_doc()
        result = await self._write(order_id).orders.update_one(
            {"_id": order_id, "status": expected.value, "appliedEvents": {"$ne": event_id}},
            {"$set": {"status": new_status.value, "updatedAt": now}, "$push": push},
        )
        return result.modified_count == 1
