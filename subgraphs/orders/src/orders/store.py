"""All MongoDB access of the orders service: queries, updates, indexes.

Collections:
- `products`: `{_id: sku, name, price: {amount, currency}}`
- `orders`: `{_id, number, customerId, customerSeq, customerBucket, status, items,
  total, shippingAddress, createdAt, updatedAt, history, appliedEvents, outbox}`
- `counters`: `{_id: name, value}`: the sequence behind order numbers (reserved in
  blocks), and one per customer behind `customerSeq` (`customer:<id>`)
- `migrations`: `{_id: name, at, ...}`, the one-off data migrations done

A customer's orders are numbered 1, 2, 3... as they are placed (`customerSeq`)
and grouped by tens (`customerBucket`). A page of a customer's newest orders is
then an equality lookup of the few buckets it spans, whatever the length of the
customer's history: on the embedded store a sort, a range or a limit would read
every order the customer ever placed (docs/architecture.md, "The embedded
store", limit 1).

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
from shopkit.metrics import store_call
from shopkit.mongo import Collection, Database, Document, MongoDB
from shopkit.pagination import Cursor

log = logging.getLogger(__name__)

# What GraphQL reads of an order: the bookkeeping arrays stay in the store.
ORDER_FIELDS = {"outbox": 0, "outboxPending": 0, "appliedEvents": 0}
ORDER_NUMBER_COUNTER = "orderNumber"
ORDER_NUMBER_BLOCK = 100
CUSTOMER_BUCKET_SIZE = 10
# Records that every order stored before customer positions existed has been given one.
POSITIONS_MIGRATION = "customerPositions"
# Every field a document is looked up by with equality (docs/architecture.md, "Query shapes").
EQUALITY_FIELDS = {
    "products": ("_id",),
    "orders": ("_id", "customerBucket", PENDING_FLAG),
    "counters": ("_id",),
    "migrations": ("_id",),
}


def customer_counter(customer_id: str) -> str:
    return f"customer:{customer_id}"


def customer_bucket(customer_id: str, bucket: int) -> str:
    return f"{customer_id}#{bucket}"


def customer_position(customer_id: str, seq: int) -> Document:
    """The fields that place an order in its customer's history."""
    return {"customerSeq": seq, "customerBucket": customer_bucket(customer_id, seq // CUSTOMER_BUCKET_SIZE)}


def newest_first(orders: Iterable[Document]) -> list[Document]:
    return sorted(orders, key=lambda order: int(order["customerSeq"]), reverse=True)


def utc_now() -> datetime:
    """Now, at the millisecond precision MongoDB stores, so cursors compare equal."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


class _Collections:
    def __init__(self, database: Database) -> None:
        self.products: Collection = database["products"]
        self.orders: Collection = database["orders"]
        self.counters: Collection = database["counters"]
        self.migrations: Collection = database["migrations"]


class OrderStore:
    def __init__(self, mongo: MongoDB, outbox_written: OutboxWritten = nobody_notified) -> None:
        self._mongo = mongo
        self._read = _Collections(mongo.reads)
        # Told of every write that pushed events (the outbox relay, to publish them at once).
        self._outbox_written = outbox_written
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
        await self._position_unpositioned_orders()

    async def _position_unpositioned_orders(self) -> None:
        """Gives orders stored before customer positions existed theirs, in createdAt order (once).

        Runs before the service takes requests or events, so writing through
        one connection races with nothing. It reads the whole collection, once:
        a document in `migrations` records that it is done.
        """
        if await self._read.migrations.find_one({"_id": POSITIONS_MIGRATION}) is not None:
            return
        unpositioned = await self._read.orders.find(
            {"customerSeq": {"$exists": False}}, {"customerId": 1, "createdAt": 1}
        ).to_list()
        by_customer: dict[str, list[Document]] = {}
        for order in sorted(unpositioned, key=lambda order: (order["createdAt"], order["_id"])):
            by_customer.setdefault(order["customerId"], []).append(order)
        if unpositioned:
            log.info("giving %d orders their customer positions (once)", len(unpositioned))
        for customer_id, orders in by_customer.items():
            last = await self._reserve(customer_counter(customer_id), len(orders))
            for seq, order in enumerate(orders, start=last - len(orders) + 1):
                # One update each: FerretDB 1.24 stopped answering, for good, an `update`
                # command carrying 177 of them (measured on the bench's data set).
                await self._mongo.writes.orders.update_one(
                    {"_id": order["_id"]}, {"$set": customer_position(customer_id, seq)}
                )
        await self._mongo.writes.migrations.update_one(
            {"_id": POSITIONS_MIGRATION},
            {"$set": {"at": utc_now(), "orders": len(unpositioned)}},
            upsert=True,
        )

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
        pages: dict[str, list[Document]] = {customer_id: [] for customer_id in customer_ids}
        # Per customer, the highest position the page may still hold.
        highest = await self._page_starts(customer_ids, after)
        while highest:
            # The buckets of the positions each page still needs; a position is
            # missing only when a placeOrder died between its numbers and its insert.
            spans = {
                customer_id: range(max(top - (limit - len(pages[customer_id])) + 1, 1), top + 1)
                for customer_id, top in highest.items()
            }
            buckets = {
                customer_id: [
                    customer_bucket(customer_id, bucket)
                    for bucket in range(
                        (span.stop - 1) // CUSTOMER_BUCKET_SIZE, span.start // CUSTOMER_BUCKET_SIZE - 1, -1
                    )
                ]
                for customer_id, span in spans.items()
            }
            found = await self._mongo.find_grouped(
                self._read.orders,
                "customerBucket",
                [bucket for customer_buckets in buckets.values() for bucket in customer_buckets],
                projection=ORDER_FIELDS,
            )
            highest = {}
            for customer_id, span in spans.items():
                read = (order for bucket in buckets[customer_id] for order in found[bucket])
                page = pages[customer_id]
                page.extend(
                    newest_first(o for o in read if o["customerSeq"] < span.stop)[: limit - len(page)]
                )
                lowest_read = span.start // CUSTOMER_BUCKET_SIZE * CUSTOMER_BUCKET_SIZE
                if len(page) < limit and lowest_read > 0:
                    highest[customer_id] = lowest_read - 1
        return pages

    async def _page_starts(self, customer_ids: Sequence[str], after: Cursor | None) -> dict[str, int]:
        """Per customer with orders, the highest position its page may hold.

        The newest order's, or the one just before the cursor's."""
        if after is None:
            counters = await self._mongo.find_by_ids(
                self._read.counters, [customer_counter(customer_id) for customer_id in customer_ids]
            )
            return {
                customer_id: int(counters[customer_counter(customer_id)]["value"])
                for customer_id in customer_ids
                if customer_counter(customer_id) in counters
            }
        # The cursor names the last order of the previous page (another customer's names nothing here).
        found = await self._mongo.find_by_ids(
            self._read.orders, [after.id], {"customerId": 1, "customerSeq": 1}
        )
        last = found.get(after.id)
        if last is None or last["customerId"] not in customer_ids or last["customerSeq"] <= 1:
            return {}
        return {last["customerId"]: int(last["customerSeq"]) - 1}

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
        return await self._reserve(ORDER_NUMBER_COUNTER, count)

    async def _reserve(self, counter_id: str, count: int) -> int:
        """Advances a counter by `count`; returns its new value, the last number reserved."""
        counter = await self._write(counter_id).counters.find_one_and_update(
            {"_id": counter_id},
            {"$inc": {"value": count}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        assert counter is not None, "an upsert always returns the document"
        return int(counter["value"])

    @store_call
    async def insert_order(self, order: Document, event: Event) -> None:
        """Stores a new order, last in its customer's history, with its `order.placed` event in its outbox."""
        seq = await self._reserve(customer_counter(order["customerId"]), 1)
        await self._write(order["_id"]).orders.insert_one(
            {
                **order,
                **customer_position(order["customerId"], seq),
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
        by_customer: dict[str, list[Document]] = {}
        for order in orders:
            by_customer.setdefault(order["customerId"], []).append(order)
        lasts = await asyncio.gather(
            *(
                self._reserve(customer_counter(customer_id), len(placed))
                for customer_id, placed in by_customer.items()
            )
        )
        positioned = [
            {**order, **customer_position(customer_id, seq)}
            for (customer_id, placed), last in zip(by_customer.items(), lasts, strict=True)
            for seq, order in enumerate(placed, start=last - len(placed) + 1)
        ]
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
