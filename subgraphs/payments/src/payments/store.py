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
- `orderBucket`, on an order's projection and on each of its payments: the
  bucket of the order in its customer's history, from the `customerSequence`
  order.placed carries (`shopkit.history.bucket_of`). A page of a customer's
  orders lies in a few buckets, so its payments are a few equality lookups
  (`payments_of_orders`). Orders placed before events carried the sequence have
  none, nor do their payments.
- `idempotency_keys`: `_id` = "<payerId>:<key>" → the request hash and the
  payment it created.
- `counters`: `{_id: "payer:<payerId>", value}`, behind `payerSeq`;
  `migrations`: the one-off data migrations done.

Every multi-step consistency rule rests on single-document conditional
updates, written through `shopkit.mongo.MongoDB.writes_for` (docs/architecture.md,
"The embedded store", limit 3); reads use its pool.

Nothing outside this module sees a document: reads return the records below
(`from_doc`), writes take them (`to_doc`), and the stored format is theirs.
"""

import asyncio
import enum
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError

from shopkit.events.envelope import Event
from shopkit.events.outbox import (
    PENDING_FLAG,
    OutboxWritten,
    nobody_notified,
    outbox_entries,
    outbox_flag,
    outbox_push,
)
from shopkit.history import Histories, History
from shopkit.metrics import store_call
from shopkit.mongo import Collection, Document, MongoDB
from shopkit.pagination import Cursor
from shopkit.records import Amount, StoredAddress
from shopkit.types import utc

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
    "payments": ("_id", "orderId", "orderBucket", "payerBucket", "status", PENDING_FLAG),
    "orders": ("_id", "orderBucket", CLAIM_IN_QUESTION),
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
# A bucket is read whole for the payments of at least this many of its orders; fewer
# cost no more as lookups by order id (payments_of_orders).
BUCKET_READ_FROM = 3


@dataclass(frozen=True)
class OrderRef:
    """An order whose payments are asked for, with the bucket its representation places it in
    (None when the representation did not say)."""

    order_id: str
    bucket: str | None = None


def _utc_or_none(moment: datetime | None) -> datetime | None:
    return None if moment is None else utc(moment)


@dataclass(frozen=True)
class OrderProjection:
    """Payments' own view of an order: what order.placed said, and whose payment may capture it."""

    id: str
    number: str
    customer_id: str
    total: Amount
    shipping_address: StoredAddress
    status: str  # ORDER_OPEN or ORDER_CANCELLED
    capturing_payment_id: str | None
    placed_at: datetime
    created_at: datetime
    updated_at: datetime
    applied_events: tuple[str, ...]
    order_bucket: str | None = None  # None: order.placed did not carry the customer's sequence
    claimed_at: datetime | None = None  # set while the claim is in question
    cancelled_at: datetime | None = None
    cancel_event_id: str | None = None

    def to_doc(self) -> Document:
        doc: Document = {
            "_id": self.id,
            "number": self.number,
            "customerId": self.customer_id,
            "total": self.total.to_doc(),
            "shippingAddress": dict(self.shipping_address),
            "status": self.status,
            "capturingPaymentId": self.capturing_payment_id,
            "placedAt": self.placed_at,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "appliedEvents": list(self.applied_events),
        }
        if self.order_bucket is not None:
            doc["orderBucket"] = self.order_bucket
        if self.claimed_at is not None:
            doc |= {"claimedAt": self.claimed_at, CLAIM_IN_QUESTION: True}
        if self.cancelled_at is not None:
            doc["cancelledAt"] = self.cancelled_at
        if self.cancel_event_id is not None:
            doc[CANCEL_EVENT_ID] = self.cancel_event_id
        return doc

    @classmethod
    def from_doc(cls, doc: Document) -> "OrderProjection":
        return cls(
            id=doc["_id"],
            number=doc["number"],
            customer_id=doc["customerId"],
            total=Amount.from_doc(doc["total"]),
            shipping_address=dict(doc["shippingAddress"]),
            status=doc["status"],
            capturing_payment_id=doc.get("capturingPaymentId"),
            placed_at=utc(doc["placedAt"]),
            created_at=utc(doc["createdAt"]),
            updated_at=utc(doc["updatedAt"]),
            applied_events=tuple(doc.get("appliedEvents", [])),
            order_bucket=doc.get("orderBucket"),
            claimed_at=_utc_or_none(doc.get("claimedAt")),
            cancelled_at=_utc_or_none(doc.get("cancelledAt")),
            cancel_event_id=doc.get(CANCEL_EVENT_ID),
        )


@dataclass(frozen=True)
class IdempotencyKey:
    """`<payer>:<key>` → the payment the first request with that key created, and what it asked."""

    id: str
    payer_id: str
    order_id: str
    request_hash: str
    payment_id: str
    created_at: datetime

    def to_doc(self) -> Document:
        return {
            "_id": self.id,
            "payerId": self.payer_id,
            "orderId": self.order_id,
            "requestHash": self.request_hash,
            "paymentId": self.payment_id,
            "createdAt": self.created_at,
        }

    @classmethod
    def from_doc(cls, doc: Document) -> "IdempotencyKey":
        return cls(
            id=doc["_id"],
            payer_id=doc["payerId"],
            order_id=doc["orderId"],
            request_hash=doc["requestHash"],
            payment_id=doc["paymentId"],
            created_at=utc(doc["createdAt"]),
        )


@dataclass(frozen=True)
class CardRecord:
    """All that is kept of a card: never its number."""

    brand: str
    last4: str

    def to_doc(self) -> Document:
        return {"brand": self.brand, "last4": self.last4}

    @classmethod
    def from_doc(cls, doc: Document) -> "CardRecord":
        return cls(brand=doc["brand"], last4=doc["last4"])


@dataclass(frozen=True)
class Refund:
    id: str
    amount: int  # minor units of the payment's currency
    reason: str
    at: datetime

    def to_doc(self) -> Document:
        return {"id": self.id, "amount": self.amount, "reason": self.reason, "at": self.at}

    @classmethod
    def from_doc(cls, doc: Document) -> "Refund":
        return cls(id=doc["id"], amount=int(doc["amount"]), reason=doc["reason"], at=utc(doc["at"]))


@dataclass(frozen=True)
class PaymentRecord:
    """A payment, without its place in its payer's history and its outbox."""

    id: str
    order_id: str
    payer_id: str
    amount: Amount
    status: PaymentStatus
    card: CardRecord | None
    failure_reason: str | None
    refunded_amount: int  # minor units of amount.currency
    refunds: tuple[Refund, ...]
    created_at: datetime
    updated_at: datetime
    applied_events: tuple[str, ...]
    order_bucket: str | None = None  # its order projection's
    captured_at: datetime | None = None

    def to_doc(self) -> Document:
        doc: Document = {
            "_id": self.id,
            "orderId": self.order_id,
            "payerId": self.payer_id,
            "amount": self.amount.to_doc(),
            "status": self.status.value,
            "card": None if self.card is None else self.card.to_doc(),
            "failureReason": self.failure_reason,
            "refundedAmount": self.refunded_amount,
            "refunds": [refund.to_doc() for refund in self.refunds],
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "appliedEvents": list(self.applied_events),
        }
        if self.order_bucket is not None:
            doc["orderBucket"] = self.order_bucket
        if self.captured_at is not None:
            doc["capturedAt"] = self.captured_at
        return doc

    @classmethod
    def from_doc(cls, doc: Document) -> "PaymentRecord":
        card = doc.get("card")
        return cls(
            id=doc["_id"],
            order_id=doc["orderId"],
            payer_id=doc["payerId"],
            amount=Amount.from_doc(doc["amount"]),
            status=PaymentStatus(doc["status"]),
            card=None if card is None else CardRecord.from_doc(card),
            failure_reason=doc.get("failureReason"),
            refunded_amount=int(doc["refundedAmount"]),
            refunds=tuple(Refund.from_doc(refund) for refund in doc.get("refunds", [])),
            created_at=utc(doc["createdAt"]),
            updated_at=utc(doc["updatedAt"]),
            applied_events=tuple(doc.get("appliedEvents", [])),
            order_bucket=doc.get("orderBucket"),
            captured_at=_utc_or_none(doc.get("capturedAt")),
        )


def _projection_or_none(doc: Document | None) -> OrderProjection | None:
    return None if doc is None else OrderProjection.from_doc(doc)


def _payment_or_none(doc: Document | None) -> PaymentRecord | None:
    return None if doc is None else PaymentRecord.from_doc(doc)


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
        await writes.payments.create_index("orderBucket", sparse=True, name="payments_by_order_bucket")
        await writes.orders.create_index("orderBucket", sparse=True, name="orders_by_bucket")
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
    async def record_order_placed(self, projection: OrderProjection) -> None:
        """Inserts the projection once; a redelivered order.placed changes nothing."""
        await self._orders(projection.id).update_one(
            {"_id": projection.id}, {"$setOnInsert": projection.to_doc()}, upsert=True
        )

    @store_call
    async def mark_order_cancelled(
        self, order_id: str, event_id: str, at: datetime
    ) -> OrderProjection | None:
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
            return OrderProjection.from_doc(updated)
        return _projection_or_none(await self._read_orders.find_one({"_id": order_id}))

    @store_call
    async def orders_by_ids(self, order_ids: Iterable[str]) -> dict[str, OrderProjection]:
        found = await self._mongo.find_by_ids(self._read_orders, order_ids)
        return {order_id: OrderProjection.from_doc(doc) for order_id, doc in found.items()}

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
    async def confirm_order_claim(
        self, order_id: str, payment_id: str, at: datetime
    ) -> OrderProjection | None:
        """Marks the claim settled (its payment captured): recovery no longer looks at it.

        Returns the projection as it is now (None if the payment no longer holds the claim).
        """
        confirmed = await self._orders(order_id).find_one_and_update(
            {"_id": order_id, "capturingPaymentId": payment_id},
            {"$set": {"updatedAt": at}, "$unset": {"claimedAt": "", CLAIM_IN_QUESTION: ""}},
            return_document=ReturnDocument.AFTER,
        )
        return _projection_or_none(confirmed)

    @store_call
    async def claims_older_than(self, moment: datetime) -> list[OrderProjection]:
        """Claims taken before `moment` and never confirmed nor released: their payment is in question."""
        cursor = self._read_orders.find({CLAIM_IN_QUESTION: True, "claimedAt": {"$lt": moment}})
        return [OrderProjection.from_doc(doc) async for doc in cursor]

    # --- idempotency keys ---------------------------------------------------

    @store_call
    async def reserve_idempotency_key(self, record: IdempotencyKey) -> IdempotencyKey | None:
        """Stores the record; returns None if it is new, else the record already there."""
        try:
            await self._keys(record.id).insert_one(record.to_doc())
        except DuplicateKeyError:
            existing = await self._read_keys.find_one({"_id": record.id})
            # Gone again means the first request was refused and released the key.
            if existing is None:
                return await self.reserve_idempotency_key(record)
            return IdempotencyKey.from_doc(existing)
        return None

    @store_call
    async def find_idempotency_key(self, key_id: str) -> IdempotencyKey | None:
        record = await self._read_keys.find_one({"_id": key_id})
        return None if record is None else IdempotencyKey.from_doc(record)

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
    async def insert_payment(self, payment: PaymentRecord) -> None:
        """Stores a new payment, last in its payer's history."""
        position = await self._histories.next_position(payment.payer_id)
        await self._payments(payment.id).insert_one({**payment.to_doc(), **position})

    @store_call
    async def delete_pending_payment(self, payment_id: str) -> None:
        """Undoes the insert of a payment that was refused before any charge."""
        await self._payments(payment_id).delete_one({"_id": payment_id, "status": PaymentStatus.PENDING})

    @store_call
    async def settle_payment(
        self, payment_id: str, event: Event, *, at: datetime, decline_reason: str | None
    ) -> PaymentRecord | None:
        """Moves a PENDING payment to its outcome, with the outcome's event, in one write.

        CAPTURED when `decline_reason` is None, else FAILED for that reason.
        """
        changes: dict[str, Any] = (
            {"status": PaymentStatus.CAPTURED.value, "capturedAt": at, "updatedAt": at}
            if decline_reason is None
            else {"status": PaymentStatus.FAILED.value, "failureReason": decline_reason, "updatedAt": at}
        )
        settled = await self._payments(payment_id).find_one_and_update(
            {"_id": payment_id, "status": PaymentStatus.PENDING},
            {"$set": {**changes, **outbox_flag()}, "$push": {**outbox_push(event)}},
            return_document=ReturnDocument.AFTER,
        )
        if settled is None:
            return None
        self._outbox_written(outbox_entries(settled))
        return PaymentRecord.from_doc(settled)

    @store_call
    async def record_refund(
        self,
        payment: PaymentRecord,
        *,
        refund: Refund,
        status: PaymentStatus,
        event: Event,
        at: datetime,
        applied_event_id: str | None = None,
    ) -> PaymentRecord | None:
        """Adds a refund to the payment as read; None if the payment changed meanwhile.

        The filter pins `refundedAmount` and `status` to the values the refund
        was computed from, so concurrent refunds can never together exceed the
        captured amount: the loser re-reads and recomputes.
        """
        guard: dict[str, Any] = {
            "_id": payment.id,
            "status": payment.status.value,
            "refundedAmount": payment.refunded_amount,
        }
        push: dict[str, Any] = {"refunds": refund.to_doc(), **outbox_push(event)}
        if applied_event_id is not None:
            guard["appliedEvents"] = {"$ne": applied_event_id}
            push["appliedEvents"] = applied_event_id
        updated = await self._payments(payment.id).find_one_and_update(
            guard,
            {
                "$set": {"status": status.value, "updatedAt": at, **outbox_flag()},
                "$inc": {"refundedAmount": refund.amount},
                "$push": push,
            },
            return_document=ReturnDocument.AFTER,
        )
        if updated is None:
            return None
        self._outbox_written(outbox_entries(updated))
        return PaymentRecord.from_doc(updated)

    @store_call
    async def find_payment(self, payment_id: str) -> PaymentRecord | None:
        return _payment_or_none(await self._read_payments.find_one({"_id": payment_id}))

    @store_call
    async def payments_by_ids(self, payment_ids: Iterable[str]) -> dict[str, PaymentRecord]:
        found = await self._mongo.find_by_ids(self._read_payments, payment_ids)
        return {payment_id: PaymentRecord.from_doc(doc) for payment_id, doc in found.items()}

    async def _payments_by_order_id(self, order_ids: Iterable[str]) -> dict[str, list[PaymentRecord]]:
        found = await self._mongo.find_grouped(self._read_payments, "orderId", order_ids, sort=OLDEST_FIRST)
        return {order_id: [PaymentRecord.from_doc(doc) for doc in docs] for order_id, docs in found.items()}

    @store_call
    async def payments_of_orders(self, orders: Iterable[OrderRef]) -> dict[str, list[PaymentRecord]]:
        """Every payment of each order, oldest first, in one call.

        One `$in` on MongoDB. On FerretDB a lookup per order id is a command per
        order, so the orders asked for in bucket numbers (`BUCKET_READ_FROM`) are
        read by bucket instead: two lookups, the bucket's projections (ids only:
        the orders payments knows to be there, whatever the caller claims) and the
        bucket's payments. The other orders are looked up by id.
        """
        refs = list(dict.fromkeys(orders))
        found: dict[str, list[PaymentRecord]] = {}
        if self._mongo.one_query_per_key:
            found = await self._payments_by_bucket(refs)
        rest = [ref.order_id for ref in refs if ref.order_id not in found]
        if rest:
            found |= await self._payments_by_order_id(rest)
        return found

    async def _payments_by_bucket(self, refs: list[OrderRef]) -> dict[str, list[PaymentRecord]]:
        """The payments of the orders of `refs` whose bucket is read whole (see payments_of_orders)."""
        asked: defaultdict[str, set[str]] = defaultdict(set)
        for ref in refs:
            if ref.bucket is not None:
                asked[ref.bucket].add(ref.order_id)
        buckets = [bucket for bucket, order_ids in asked.items() if len(order_ids) >= BUCKET_READ_FROM]
        if not buckets:
            return {}
        projected, paid = await asyncio.gather(
            self._mongo.find_grouped(self._read_orders, "orderBucket", buckets, projection={"_id": 1}),
            self._mongo.find_grouped(self._read_payments, "orderBucket", buckets, sort=OLDEST_FIRST),
        )
        found: dict[str, list[PaymentRecord]] = {}
        for bucket in buckets:
            for doc in projected[bucket]:
                if doc["_id"] in asked[bucket]:
                    found[doc["_id"]] = []
            for doc in paid[bucket]:
                if doc["orderId"] in found:
                    found[doc["orderId"]].append(PaymentRecord.from_doc(doc))
        return found

    @store_call
    async def payment_pages(
        self, payer_ids: list[str], limit: int, after: Cursor | None
    ) -> dict[str, list[PaymentRecord]]:
        """Up to `limit` payments per payer, newest first, made before the cursor's payment."""
        pages = await self._histories.pages(payer_ids, limit, after.id if after else None)
        return {payer_id: [PaymentRecord.from_doc(doc) for doc in page] for payer_id, page in pages.items()}

    @store_call
    async def pending_payments_older_than(self, moment: datetime) -> list[PaymentRecord]:
        cursor = self._read_payments.find({"status": PaymentStatus.PENDING, "createdAt": {"$lt": moment}})
        return [PaymentRecord.from_doc(doc) async for doc in cursor]
