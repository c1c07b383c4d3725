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
"""

import asyncio
import logging
from collections import deque
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from pymongo import ASCENDING, ReturnDocument, UpdateOne

from orders.rules import OrderStatus
from shopkit.events.envelope import Event
from shopkit.events.outbox import PENDING_FLAG, OutboxWritten, nobody_notified, outbox_flag, outbox_push
from shopkit.history import Histories, History, reserve
from shopkit.metrics import store_call
from shopkit.mongo import Collection, Database, Document, MongoDB
from shopkit.pagination import Cursor

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
    async def upsert_products(self, products: Sequence[Document]) -> None:
        """Creates or refreshes catalog entries by SKU (safe to run at every start)."""
        writes = [
            UpdateOne(
                {"_id": product["_id"]},
                {"$set": {field: value for field, value in product.items() if field != "_id"}},
                upsert=True,
            )
            for product in products
        ]
        if writes:
            # At start, before any request: nothing races with it.
            await self._mongo.writes.products.bulk_write(writes, ordered=False)

    @store_call
    async def all_products(self) -> list[Document]:
        """The whole catalog (a few dozen products), read once at start (`orders.catalog`)."""
        return await self._read.products.find({}).sort("name", ASCENDING).to_list()

    # -- orders: reads ----------------------------------------------------------

    @store_call
    async def orders_by_id(self, order_ids: Sequence[str]) -> dict[str, Document]:
        return await self._mongo.find_by_ids(self._read.orders, order_ids, ORDER_FIELDS)

    @store_call
    async def order_state(self, order_id: str) -> Document | None:
        """Only what an event handler decides on: status and applied event ids."""
        return await self._read.orders.find_one({"_id": order_id}, {"status": 1, "appliedEvents": 1})

    @store_call
    async def customer_order_pages(
        self, customer_ids: Sequence[str], limit: int, after: Cursor | None
    ) -> dict[str, list[Document]]:
        """Up to `limit` orders of each customer, newest placed first, placed before the cursor's order."""
        return await self._histories.pages(customer_ids, limit, after.id if after else None, ORDER_FIELDS)

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
    async def insert_order(self, order: Document, event: Event) -> None:
        """Stores a new order, last in its customer's history, with its `order.placed` event in its outbox."""
        position = await self._histories.next_position(order["customerId"])
        await self._write(order["_id"]).orders.insert_one(
            {
                **order,
                **position,
                "outbox": [event.to_doc()],
                **outbox_flag(),
            }
        )
        self._outbox_written(order["_id"])

    @store_call
    async def import_orders(self, orders: Sequence[Document]) -> None:
        """Stores orders placed elsewhere (a data set being loaded), without events.

        Each takes the next position of its customer, in the order given.
        """
        positioned = await self._histories.positioned(orders)
        if positioned:
            # New documents only: no other write can race with these inserts.
            await self._mongo.writes.orders.insert_many(positioned, ordered=False)

    @store_call
    async def cancel_order(
        self,
        order_id: str,
        cancellable: Iterable[OrderStatus],
        history_entry: Document,
        event: Event,
        now: datetime,
    ) -> Document | None:
        """Cancels the order if its status still allows it; None if it no longer does."""
        cancelled: Document | None = await self._write(order_id).orders.find_one_and_update(
            {"_id": order_id, "status": {"$in": [status.value for status in cancellable]}},
            {
                "$set": {"status": OrderStatus.CANCELLED.value, "updatedAt": now, **outbox_flag()},
                "$push": {"history": history_entry, **outbox_push(event)},
            },
            return_document=ReturnDocument.AFTER,
        )
        if cancelled is not None:
            self._outbox_written(order_id)
        return cancelled

    @store_call
    async def apply_event(
        self,
        order_id: str,
        event_id: str,
        expected: OrderStatus,
        new_status: OrderStatus,
        history_entry: Document | None,
        now: datetime,
    ) -> bool:
        """Records a consumed event (and its status change, if any) exactly once.

        False when the order is no longer in `expected` status or the event was
        already applied: the caller reads the order again and decides anew.
        """
        push: Document = {"appliedEvents": event_id}
        if history_entry is not None:
            push["history"] = history_entry
        result = await self._write(order_id).orders.update_one(
            {"_id": order_id, "status": expected.value, "appliedEvents": {"$ne": event_id}},
            {"$set": {"status": new_status.value, "updatedAt": now}, "$push": push},
        )
        return result.modified_count == 1
