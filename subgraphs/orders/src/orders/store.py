"""All MongoDB access of the orders service: queries, updates, indexes.

Collections:
- `products`: `{_id: sku, name, price: {amount, currency}}`
- `orders`: `{_id, number, customerId, status, items, total, shippingAddress,
  createdAt, updatedAt, history, appliedEvents, outbox}`
- `counters`: `{_id: name, value}`, the sequence behind order numbers

Reads use a connection pool; writes go through `writes`, a one-connection
client by default: FerretDB 1.24 (SQLite) loses concurrent updates of one
document unless they arrive on one connection (see `shopkit.mongo.connect`).
The conditional updates below (cancel only from a cancellable status, apply an
event only once) are atomic only because of that.

Every value in a filter comes from our own code or is a plain string the
client sent, never a document the client sent, so no operator can be smuggled in.
"""

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from pymongo import ASCENDING, DESCENDING, ReturnDocument, UpdateOne

from orders.lifecycle import OrderStatus
from shopkit.events.envelope import Event
from shopkit.events.outbox import outbox_flag, outbox_push
from shopkit.mongo import Collection, Database, Document, any_of
from shopkit.pagination import Cursor

# What GraphQL reads of an order: the bookkeeping arrays stay in the store.
ORDER_FIELDS = {"outbox": 0, "outboxPending": 0, "appliedEvents": 0}
ORDER_NUMBER_COUNTER = "orderNumber"


# Order keys are tiny: fetch up to this many in the first reply.
KEYS_BATCH = 10_000


def _whole_batch(expected: int) -> int:
    """A batch size that returns `expected` documents in the first reply.

    One more than expected, so the server sees the cursor exhausted and the
    driver sends no `getMore` (FerretDB keeps a cursor open on an exact fit).
    """
    return expected + 1


def utc_now() -> datetime:
    """Now, at the millisecond precision MongoDB stores, so cursors compare equal."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


class _Collections:
    def __init__(self, database: Database) -> None:
        self.products: Collection = database["products"]
        self.orders: Collection = database["orders"]
        self.counters: Collection = database["counters"]


class OrderStore:
    def __init__(self, reads: Database, writes: Database) -> None:
        self._read = _Collections(reads)
        self._write = _Collections(writes)

    @property
    def orders_for_writing(self) -> Collection:
        """The orders collection on the write connection (for the outbox relay's updates)."""
        return self._write.orders

    async def create_indexes(self) -> None:
        await self._write.orders.create_index(
            [("customerId", ASCENDING), ("createdAt", DESCENDING), ("_id", DESCENDING)],
            name="customer_newest_first",
        )
        await self._write.orders.create_index("number", unique=True, name="unique_number")

    # -- products ---------------------------------------------------------------

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
            await self._write.products.bulk_write(writes, ordered=False)

    async def all_products(self) -> list[Document]:
        return await self._read.products.find({}).sort("name", ASCENDING).to_list()

    async def products_by_sku(self, skus: Sequence[str]) -> list[Document]:
        cursor = self._read.products.find(any_of("_id", skus), batch_size=_whole_batch(len(skus)))
        return await cursor.to_list()

    # -- orders: reads ----------------------------------------------------------

    async def orders_by_id(self, order_ids: Sequence[str]) -> list[Document]:
        cursor = self._read.orders.find(
            any_of("_id", order_ids), ORDER_FIELDS, batch_size=_whole_batch(len(order_ids))
        )
        return await cursor.to_list()

    async def order_state(self, order_id: str) -> Document | None:
        """Only what an event handler decides on: status and applied event ids."""
        return await self._read.orders.find_one({"_id": order_id}, {"status": 1, "appliedEvents": 1})

    async def customer_orders(self, customer_id: str, limit: int, after: Cursor | None) -> list[Document]:
        """One customer's orders, newest first, strictly after the cursor."""
        query: Document = {"customerId": customer_id, **(after.mongo_filter() if after else {})}
        cursor = (
            self._read.orders.find(query, ORDER_FIELDS)
            .sort([("createdAt", DESCENDING), ("_id", DESCENDING)])
            .limit(limit)
        )
        return await cursor.to_list()

    async def customers_order_keys(self, customer_ids: Sequence[str], after: Cursor | None) -> list[Document]:
        """`{_id, customerId}` of several customers' orders, each customer's newest first.

        MongoDB could cut each customer's list with `$group`/`$push`/`$slice`, which
        FerretDB lacks, so this reads only the keys and the caller keeps each
        customer's first N, then loads those orders by id.
        """
        query: Document = {
            **any_of("customerId", customer_ids),
            **(after.mongo_filter() if after else {}),
        }
        cursor = self._read.orders.find(query, {"customerId": 1}, batch_size=KEYS_BATCH).sort(
            [("customerId", ASCENDING), ("createdAt", DESCENDING), ("_id", DESCENDING)]
        )
        return await cursor.to_list()

    # -- orders: writes ---------------------------------------------------------

    async def next_order_sequence(self) -> int:
        counter = await self._write.counters.find_one_and_update(
            {"_id": ORDER_NUMBER_COUNTER},
            {"$inc": {"value": 1}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        assert counter is not None, "an upsert always returns the document"
        return int(counter["value"])

    async def insert_order(self, order: Document, event: Event) -> None:
        """Stores a new order with its `order.placed` event in its outbox."""
        await self._write.orders.insert_one({**order, "outbox": [event.to_doc()], **outbox_flag()})

    async def cancel_order(
        self,
        order_id: str,
        cancellable: Iterable[OrderStatus],
        history_entry: Document,
        event: Event,
        now: datetime,
    ) -> Document | None:
        """Cancels the order if its status still allows it; None if it no longer does."""
        return await self._write.orders.find_one_and_update(
            {"_id": order_id, "status": {"$in": [status.value for status in cancellable]}},
            {
                "$set": {"status": OrderStatus.CANCELLED.value, "updatedAt": now, **outbox_flag()},
                "$push": {"history": history_entry, **outbox_push(event)},
            },
            return_document=ReturnDocument.AFTER,
        )

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
        result = await self._write.orders.update_one(
            {"_id": order_id, "status": expected.value, "appliedEvents": {"$ne": event_id}},
            {"$set": {"status": new_status.value, "updatedAt": now}, "$push": push},
        )
        return result.modified_count == 1
