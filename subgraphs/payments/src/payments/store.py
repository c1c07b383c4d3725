"""All access to the payments database: payments, order projections, idempotency keys.

Collections:
- `payments`: one document per charge attempt, `_id` = payment id. Its
  `outbox` carries the payment's events; `refunds` lists every refund.
  `payerSeq`/`payerBucket` place it in its payer's history, so that a page of
  the newest is read by equality lookups only (`shopkit.history`).
- `orders`: payments' own projection of `order.placed`/`order.cancelled`
  (customer, total, address, OPEN/CANCELLED) plus `capturingPaymentId`, the
  claim that lets exactly one payment capture an order (with `claimedAt` and
  `claimInQuestion` until the payment is settled).
- `idempotency_keys`: `_id` = "<payerId>:<key>" → the request hash and the
  payment it created.
- `counters`: `{_id: "payer:<payerId>", value}`, behind `payerSeq`;
  `migrations`: the one-off data migrations done.

Every multi-step consistency rule rests on single-document conditional
updates, written through `shopkit.mongo.MongoDB.writes_for` (docs/architecture.md,
"The embedded store", limit 3); reads use its pool.
"""

import enum
from collections.abc import Iterable
from datetime import datetime

from pymongo import ASCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError

from shopkit.events.envelope import Event
from shopkit.events.outbox import PENDING_FLAG, OutboxWritten, nobody_notified, outbox_flag, outbox_push
from shopkit.history import Histories, History
from shopkit.metrics import store_call
from shopkit.mongo import Collection, Document, MongoDB
from shopkit.pagination import Cursor

ORDER_OPEN = "OPEN"
ORDER_CANCELLED = "CANCELLED"


class PaymentStatus(enum.StrEnum):
    """Where a payment is in its life: stored as its value, shown by the API as the enum
    `PaymentStatus` (payments/schema.py exposes this very class)."""

    PENDING = "PENDING"
    CAPTURED = "CAPTURED"
    FAILED = "FAILED"
    REFUNDED = "REFUNDED"
    PARTIALLY_REFUNDED = "PARTIALLY_REFUNDED"


REFUNDABLE = frozenset({PaymentStatus.CAPTURED, PaymentStatus.PARTIALLY_REFUNDED})
# Payments whose money was taken; what is still held is amount - refundedAmount.
CHARGED = frozenset({PaymentStatus.CAPTURED, PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED})
OLDEST_FIRST = [("createdAt", ASCENDING), ("_id", ASCENDING)]
# Set on an order projection while its claim is neither confirmed nor released:
# maintenance looks claims up by this equality, never by a range on claimedAt.
CLAIM_IN_QUESTION = "claimInQuestion"
# The id of the order.cancelled event on a cancelled projection.
CANCEL_EVENT_ID = "cancelEventId"
# Every field a document is looked up by with equality (docs/architecture.md, "Query shapes").
EQUALITY_FIELDS = {
    "payments": ("_id", "orderId", "payerBucket", "status", PENDING_FLAG),
    "orders": ("_id", CLAIM_IN_QUESTION),
    "idempotency_keys": ("_id",),
    "counters": ("_id",),
    "migrations": ("_id",),
}
PAYER_HISTORY = History(
    collection="payments",
    owner_field="payerId",
    seq_field="payerSeq",
    bucket_field="payerBucket",
    counter_prefix="payer",
)


class PaymentStore:
    def __init__(self, mongo: MongoDB, outbox_written: OutboxWritten = nobody_notified) -> None:
        self._mongo = mongo
        # Told of every write that pushed events (the outbox relay, to publish them at once).
        self._outbox_written = outbox_written
        self._read_payments: Collection = mongo.reads["payments"]
        self._read_orders: Collection = mongo.reads["orders"]
        self._read_keys: Collection = mongo.reads["idempotency_keys"]
        self._histories = Histories(mongo, PAYER_HISTORY)

    def _payments(self, payment_id: str) -> Collection:
        """`payments` on the write connection of this payment (shopkit.mongo.MongoDB.writes_for)."""
        return self._mongo.writes_for(payment_id)["payments"]

    def _orders(self, order_id: str) -> Collection:
        return self._mongo.writes_for(order_id)["orders"]

    def _keys(self, key_id: str) -> Collection:
        return self._mongo.writes_for(key_id)["idempotency_keys"]

    async def open(self) -> None:
        """Connects to the server and creates every index (safe to run at every start)."""
        await self._mongo.open(EQUALITY_FIELDS)
        writes = self._mongo.writes
        await writes.payments.create_index([("orderId", ASCENDING)], name="payments_by_order")
        await writes.payments.create_index([("payerBucket", ASCENDING)], name="payments_by_payer_bucket")
        await writes.payments.create_index(
            [("status", ASCENDING), ("createdAt", ASCENDING)], name="payments_by_status_age"
        )
        await writes.orders.create_index([("capturingPaymentId", ASCENDING)], name="orders_by_claim")
        await writes.idempotency_keys.create_index([("createdAt", ASCENDING)], name="idempotency_keys_by_age")
        await writes.payments.create_index(PENDING_FLAG, sparse=True, name="payments_outbox_pending")
        await writes.orders.create_index(CLAIM_IN_QUESTION, sparse=True, name="orders_claim_in_question")
        await self._histories.position_unpositioned()

    async def close(self) -> None:
        await self._mongo.close()

    # --- order projections -------------------------------------------------

    @store_call
    async def record_order_placed(self, projection: Document) -> None:
        """Inserts the projection once; a redelivered order.placed changes nothing."""
        await self._orders(projection["_id"]).update_one(
            {"_id": projection["_id"]}, {"$setOnInsert": projection}, upsert=True
        )

    @store_call
    async def mark_order_cancelled(self, order_id: str, event_id: str, at: datetime) -> Document | None:
        """Marks the projection CANCELLED; returns it (None when order.placed has not arrived).

        `cancelEventId` keys the refunds the cancellation causes, whichever path
        makes them (this event's handler, or the settling of a charge in flight).
        """
        updated: Document | None = await self._orders(order_id).find_one_and_update(
            {"_id": order_id, "appliedEvents": {"$ne": event_id}},
            {
                "$set": {
                    "status": ORDER_CANCELLED,
                    "cancelledAt": at,
                    "updatedAt": at,
                    CANCEL_EVENT_ID: event_id,
                },
                "$push": {"appliedEvents": event_id},
            },
            return_document=ReturnDocument.AFTER,
        )
        if updated is not None:
            return updated
        existing: Document | None = await self._read_orders.find_one({"_id": order_id})
        return existing

    @store_call
    async def orders_by_ids(self, order_ids: Iterable[str]) -> dict[str, Document]:
        return await self._mongo.find_by_ids(self._read_orders, order_ids)

    @store_call
    async def claim_order(self, order_id: str, payment_id: str, at: datetime) -> bool:
        """Makes `payment_id` the one payment allowed to capture this OPEN order."""
        claimed = await self._orders(order_id).find_one_and_update(
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

    @store_call
    async def release_order_claim(self, order_id: str, payment_id: str, at: datetime) -> None:
        """Frees the order for another attempt, if `payment_id` still holds it."""
        await self._orders(order_id).update_one(
            {"_id": order_id, "capturingPaymentId": payment_id},
            {
                "$set": {"capturingPaymentId": None, "updatedAt": at},
                "$unset": {"claimedAt": "", CLAIM_IN_QUESTION: ""},
            },
        )

    @store_call
    async def confirm_order_claim(self, order_id: str, payment_id: str, at: datetime) -> Document | None:
        """Marks the claim settled (its payment captured): recovery no longer looks at it.

        Returns the projection as it is now (None if the payment no longer holds the claim).
        """
        confirmed: Document | None = await self._orders(order_id).find_one_and_update(
            {"_id": order_id, "capturingPaymentId": payment_id},
            {"$set": {"updatedAt": at}, "$unset": {"claimedAt": "", CLAIM_IN_QUESTION: ""}},
            return_document=ReturnDocument.AFTER,
        )
        return confirmed

    @store_call
    async def claims_older_than(self, moment: datetime) -> list[Document]:
        """Claims taken before `moment` and never confirmed nor released: their payment is in question."""
        cursor = self._read_orders.find({CLAIM_IN_QUESTION: True, "claimedAt": {"$lt": moment}})
        return [doc async for doc in cursor]

    # --- idempotency keys ---------------------------------------------------

    @store_call
    async def reserve_idempotency_key(self, record: Document) -> Document | None:
        """Stores the record; returns None if it is new, else the record already there."""
        try:
            await self._keys(record["_id"]).insert_one(record)
        except DuplicateKeyError:
            existing: Document | None = await self._read_keys.find_one({"_id": record["_id"]})
            # Gone again means the first request was refused and released the key.
            return existing if existing is not None else await self.reserve_idempotency_key(record)
        return None

    @store_call
    async def find_idempotency_key(self, key_id: str) -> Document | None:
        record: Document | None = await self._read_keys.find_one({"_id": key_id})
        return record

    @store_call
    async def release_idempotency_key(self, key_id: str, payment_id: str) -> None:
        await self._keys(key_id).delete_one({"_id": key_id, "paymentId": payment_id})

    @store_call
    async def purge_idempotency_keys(self, created_before: datetime) -> int:
        # Keys a week old: no request writes them any more.
        result = await self._mongo.writes.idempotency_keys.delete_many({"createdAt": {"$lt": created_before}})
        return result.deleted_count

    # --- payments -----------------------------------------------------------

    @store_call
    async def insert_payment(self, payment: Document) -> None:
        """Stores a new payment, last in its payer's history."""
        position = await self._histories.next_position(payment["payerId"])
        await self._payments(payment["_id"]).insert_one({**payment, **position})

    @store_call
    async def delete_pending_payment(self, payment_id: str) -> None:
        """Undoes the insert of a payment that was refused before any charge."""
        await self._payments(payment_id).delete_one({"_id": payment_id, "status": PaymentStatus.PENDING})

    @store_call
    async def settle_payment(self, payment_id: str, changes: Document, event: Event) -> Document | None:
        """Moves a PENDING payment to its outcome, with the outcome's event, in one write."""
        settled: Document | None = await self._payments(payment_id).find_one_and_update(
            {"_id": payment_id, "status": PaymentStatus.PENDING},
            {"$set": {**changes, **outbox_flag()}, "$push": {**outbox_push(event)}},
            return_document=ReturnDocument.AFTER,
        )
        if settled is not None:
            self._outbox_written(payment_id)
        return settled

    @store_call
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
        updated: Document | None = await self._payments(payment["_id"]).find_one_and_update(
            guard,
            {
                "$set": {"status": status, "updatedAt": at, **outbox_flag()},
                "$inc": {"refundedAmount": refund["amount"]},
                "$push": push,
            },
            return_document=ReturnDocument.AFTER,
        )
        if updated is not None:
            self._outbox_written(payment["_id"])
        return updated

    @store_call
    async def find_payment(self, payment_id: str) -> Document | None:
        payment: Document | None = await self._read_payments.find_one({"_id": payment_id})
        return payment

    @store_call
    async def payments_by_ids(self, payment_ids: Iterable[str]) -> dict[str, Document]:
        return await self._mongo.find_by_ids(self._read_payments, payment_ids)

    @store_call
    async def payments_by_order_ids(self, order_ids: Iterable[str]) -> dict[str, list[Document]]:
        """Every payment of each order, oldest first."""
        return await self._mongo.find_grouped(self._read_payments, "orderId", order_ids, sort=OLDEST_FIRST)

    @store_call
    async def payment_pages(
        self, payer_ids: list[str], limit: int, after: Cursor | None
    ) -> dict[str, list[Document]]:
        """Up to `limit` payments per payer, newest first, made before the cursor's payment."""
        return await self._histories.pages(payer_ids, limit, after.id if after else None)

    @store_call
    async def pending_payments_older_than(self, moment: datetime) -> list[Document]:
        cursor = self._read_payments.find({"status": PaymentStatus.PENDING, "createdAt": {"$lt": moment}})
        return [doc async for doc in cursor]
