"""All access to the payments database: payments, order projections, idempotency keys.

Collections:
- `payments`: one document per charge attempt, `_id` = payment id. Its
  `outbox` carries the payment's events; `refunds` lists every refund.
- `orders`: payments' own projection of `order.placed`/`order.cancelled`
  (customer, total, address, OPEN/CANCELLED) plus `capturingPaymentId`, the
  claim that lets exactly one payment capture an order (with `claimedAt` and
  `claimInQuestion` until the payment is settled).
- `idempotency_keys`: `_id` = "<payerId>:<key>" → the request hash and the
  payment it created.

Every multi-step consistency rule rests on single-document conditional
updates (FerretDB has no multi-document transactions). FerretDB 1.24 makes
those atomic only among commands of one connection, so every write goes
through `writes`, a one-connection client (shopkit.mongo.connect(max_pool_size=1));
reads use the pooled `reads`.
"""

from collections.abc import Iterable
from datetime import datetime

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError

from shopkit.events.envelope import Event
from shopkit.events.outbox import outbox_flag, outbox_push
from shopkit.mongo import Collection, Database, Document, any_of
from shopkit.pagination import Cursor

ORDER_OPEN = "OPEN"
ORDER_CANCELLED = "CANCELLED"

PENDING = "PENDING"
CAPTURED = "CAPTURED"
FAILED = "FAILED"
REFUNDED = "REFUNDED"
PARTIALLY_REFUNDED = "PARTIALLY_REFUNDED"
REFUNDABLE = (CAPTURED, PARTIALLY_REFUNDED)
# Batched loads fetch this many documents per round trip (the driver's first batch is 101).
BATCH_SIZE = 1000
NEWEST_FIRST = [("createdAt", DESCENDING), ("_id", DESCENDING)]
# Set on an order projection while its claim is neither confirmed nor released.
# Maintenance looks claims up by this equality, which FerretDB's PostgreSQL
# backend evaluates in PostgreSQL (a range on claimedAt alone would make
# FerretDB decode every projection).
CLAIM_IN_QUESTION = "claimInQuestion"


class PaymentStore:
    def __init__(self, reads: Database, writes: Database) -> None:
        # Written through the one writer connection (the outbox relay too).
        self.payments: Collection = writes["payments"]
        self.orders: Collection = writes["orders"]
        self.idempotency_keys: Collection = writes["idempotency_keys"]
        self._read_payments: Collection = reads["payments"]
        self._read_orders: Collection = reads["orders"]
        self._read_keys: Collection = reads["idempotency_keys"]

    async def create_indexes(self) -> None:
        await self.payments.create_index([("orderId", ASCENDING)], name="payments_by_order")
        await self.payments.create_index(
            [("payerId", ASCENDING), ("createdAt", DESCENDING), ("_id", DESCENDING)],
            name="payments_by_payer_newest_first",
        )
        await self.payments.create_index(
            [("status", ASCENDING), ("createdAt", ASCENDING)], name="payments_by_status_age"
        )
        await self.orders.create_index([("capturingPaymentId", ASCENDING)], name="orders_by_claim")
        await self.idempotency_keys.create_index([("createdAt", ASCENDING)], name="idempotency_keys_by_age")

    # --- order projections -------------------------------------------------

    async def record_order_placed(self, projection: Document) -> None:
        """Inserts the projection once; a redelivered order.placed changes nothing."""
        await self.orders.update_one({"_id": projection["_id"]}, {"$setOnInsert": projection}, upsert=True)

    async def mark_order_cancelled(self, order_id: str, event_id: str, at: datetime) -> Document | None:
        """Marks the projection CANCELLED; returns it (None when order.placed has not arrived)."""
        updated: Document | None = await self.orders.find_one_and_update(
            {"_id": order_id, "appliedEvents": {"$ne": event_id}},
            {
                "$set": {"status": ORDER_CANCELLED, "cancelledAt": at, "updatedAt": at},
                "$push": {"appliedEvents": event_id},
            },
            return_document=ReturnDocument.AFTER,
        )
        if updated is not None:
            return updated
        existing: Document | None = await self._read_orders.find_one({"_id": order_id})
        return existing

    async def orders_by_ids(self, order_ids: Iterable[str]) -> dict[str, Document]:
        cursor = self._read_orders.find(any_of("_id", order_ids)).batch_size(BATCH_SIZE)
        return {doc["_id"]: doc async for doc in cursor}

    async def claim_order(self, order_id: str, payment_id: str, at: datetime) -> bool:
        """Makes `payment_id` the one payment allowed to capture this OPEN order."""
        claimed = await self.orders.find_one_and_update(
            {"_id": order_id, "status": ORDER_OPEN, "capturingPaymentId": None},
            {
                "$set": {
                    "capturingPaymentId": payment_id,
                    "claimedAt": at,
                    "updatedAt": at,
                    CLAIM_IN_QUESTION: True,
                }
            },
        )
        return claimed is not None

    async def release_order_claim(self, order_id: str, payment_id: str, at: datetime) -> None:
        """Frees the order for another attempt, if `payment_id` still holds it."""
        await self.orders.update_one(
            {"_id": order_id, "capturingPaymentId": payment_id},
            {
                "$set": {"capturingPaymentId": None, "updatedAt": at},
                "$unset": {"claimedAt": "", CLAIM_IN_QUESTION: ""},
            },
        )

    async def confirm_order_claim(self, order_id: str, payment_id: str, at: datetime) -> None:
        """Marks the claim settled (its payment captured): recovery no longer looks at it."""
        await self.orders.update_one(
            {"_id": order_id, "capturingPaymentId": payment_id},
            {"$set": {"updatedAt": at}, "$unset": {"claimedAt": "", CLAIM_IN_QUESTION: ""}},
        )

    async def claims_older_than(self, moment: datetime) -> list[Document]:
        """Claims taken before `moment` and never confirmed nor released: their payment is in question."""
        cursor = self._read_orders.find({CLAIM_IN_QUESTION: True, "claimedAt": {"$lt": moment}})
        return [doc async for doc in cursor]

    # --- idempotency keys ---------------------------------------------------

    async def reserve_idempotency_key(self, record: Document) -> Document | None:
        """Stores the record; returns None if it is new, else the record already there."""
        try:
            await self.idempotency_keys.insert_one(record)
        except DuplicateKeyError:
            existing: Document | None = await self._read_keys.find_one({"_id": record["_id"]})
            # Gone again means the first request was refused and released the key.
            return existing if existing is not None else await self.reserve_idempotency_key(record)
        return None

    async def find_idempotency_key(self, key_id: str) -> Document | None:
        record: Document | None = await self._read_keys.find_one({"_id": key_id})
        return record

    async def release_idempotency_key(self, key_id: str, payment_id: str) -> None:
        await self.idempotency_keys.delete_one({"_id": key_id, "paymentId": payment_id})

    async def purge_idempotency_keys(self, created_before: datetime) -> int:
        result = await self.idempotency_keys.delete_many({"createdAt": {"$lt": created_before}})
        return result.deleted_count

    # --- payments -----------------------------------------------------------

    async def insert_payment(self, payment: Document) -> None:
        await self.payments.insert_one(payment)

    async def delete_pending_payment(self, payment_id: str) -> None:
        """Undoes the insert of a payment that was refused before any charge."""
        await self.payments.delete_one({"_id": payment_id, "status": PENDING})

    async def settle_payment(self, payment_id: str, changes: Document, event: Event) -> Document | None:
        """Moves a PENDING payment to its outcome, with the outcome's event, in one write."""
        settled: Document | None = await self.payments.find_one_and_update(
            {"_id": payment_id, "status": PENDING},
            {"$set": {**changes, **outbox_flag()}, "$push": {**outbox_push(event)}},
            return_document=ReturnDocument.AFTER,
        )
        return settled

    async def record_refund(
        self,
        payment: Document,
        *,
        refund: Document,
        status: str,
        event: Event,
        at: datetime,
        applied_event_id: str | None = None,
    ) -> Document | None:
        """Adds a refund to the payment as read; None if the payment changed meanwhile.

        The filter pins `refundedAmount` and `status` to the values the refund
        was computed from, so concurrent refunds can never together exceed the
        captured amount: the loser re-reads and recomputes.
        """
        guard: Document = {
            "_id": payment["_id"],
            "status": payment["status"],
            "refundedAmount": payment["refundedAmount"],
        }
        push: Document = {"refunds": refund, **outbox_push(event)}
        if applied_event_id is not None:
            guard["appliedEvents"] = {"$ne": applied_event_id}
            push["appliedEvents"] = applied_event_id
        updated: Document | None = await self.payments.find_one_and_update(
            guard,
            {
                "$set": {"status": status, "updatedAt": at, **outbox_flag()},
                "$inc": {"refundedAmount": refund["amount"]},
                "$push": push,
            },
            return_document=ReturnDocument.AFTER,
        )
        return updated

    async def find_payment(self, payment_id: str) -> Document | None:
        payment: Document | None = await self._read_payments.find_one({"_id": payment_id})
        return payment

    async def payments_by_ids(self, payment_ids: Iterable[str]) -> dict[str, Document]:
        cursor = self._read_payments.find(any_of("_id", payment_ids)).batch_size(BATCH_SIZE)
        return {doc["_id"]: doc async for doc in cursor}

    async def payments_by_order_ids(self, order_ids: Iterable[str]) -> dict[str, list[Document]]:
        by_order: dict[str, list[Document]] = {}
        cursor = (
            self._read_payments.find(any_of("orderId", order_ids))
            .sort([("createdAt", ASCENDING), ("_id", ASCENDING)])
            .batch_size(BATCH_SIZE)
        )
        async for doc in cursor:
            by_order.setdefault(doc["orderId"], []).append(doc)
        return by_order

    async def payment_pages(
        self, payer_ids: list[str], limit: int, after: Cursor | None
    ) -> dict[str, list[Document]]:
        """Up to `limit` payments per payer, newest first, in one query.

        For one payer the query is limited server-side. For several, one `$in`
        query is read until every payer has `limit` payments (FerretDB cannot
        cap per group in an aggregation), so the count of queries stays constant.
        """
        query: Document = any_of("payerId", payer_ids)
        if after is not None:
            query.update(after.mongo_filter())
        cursor = self._read_payments.find(query).sort(NEWEST_FIRST).batch_size(BATCH_SIZE)
        if len(payer_ids) == 1:
            cursor = cursor.limit(limit)
        pages: dict[str, list[Document]] = {payer_id: [] for payer_id in payer_ids}
        unfilled = len(payer_ids)
        async for doc in cursor:
            page = pages[doc["payerId"]]
            if len(page) < limit:
                page.append(doc)
                if len(page) == limit:
                    unfilled -= 1
                    if unfilled == 0:
                        break
        await cursor.close()
        return pages

    async def pending_payments_older_than(self, moment: datetime) -> list[Document]:
        cursor = self._read_payments.find({"status": PENDING, "createdAt": {"$lt": moment}})
        return [doc async for doc in cursor]
