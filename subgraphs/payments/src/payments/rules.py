"""The payments service's rules: pay an order, refund, and repair interrupted work.

Paying an order, step by step (each step one single-document write):
1. the idempotency key is reserved: `idempotency_keys[<payer>:<key>]` → a
   new payment id and the hash of the request. A duplicate finds the record
   and waits for that payment instead of charging;
2. the payment is inserted as PENDING;
3. the order projection is claimed for that payment (`capturingPaymentId`
   set only where none is set and the order is OPEN), so one order is never
   captured twice, whatever the keys. Refused: the PENDING payment is deleted
   and the key released, so a refusal leaves nothing behind;
4. the processor is charged with the payment id as its reference
   (idempotent), and the payment is settled to CAPTURED or FAILED together
   with its event in one update;
5. a decline releases the claim, so the customer may pay again (new key).
A claim therefore always names an existing payment. The charge is given
`CHARGE_TIMEOUT_SECONDS`, less than `STALE_PAYMENT_SECONDS`: a charge that
outlives it leaves the payment PENDING (the client is told to retry with the
same key), and recovery settles it from the processor's record only once no
request can still be waiting on it. A crash between steps
leaves a PENDING payment (settled later from the processor's record by
`recover_interrupted`), a FAILED payment still holding its claim (released
there too), or a key without a payment (freed by the next request using it).
"""

import asyncio
import contextlib
import hashlib
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from payments import events
from payments.arrivals import FALLBACK_POLL_SECONDS, OrderArrivals
from payments.config import Settings
from payments.processor import CardDetails, CardProcessor
from payments.store import (
    ORDER_CANCELLED,
    REFUNDABLE,
    CardRecord,
    IdempotencyKey,
    OrderProjection,
    OrderRef,
    PaymentRecord,
    PaymentStatus,
    PaymentStore,
    Refund,
)
from shopkit.admission import stepped_aside
from shopkit.auth import Principal
from shopkit.errors import BadUserInput, Conflict, Forbidden, NotFound, ServiceUnavailable
from shopkit.events.envelope import Event
from shopkit.tracing import traceparent_or

log = logging.getLogger(__name__)

MIN_KEY_LENGTH = 8
MAX_KEY_LENGTH = 100
INTERRUPTED = "processing_interrupted"
# Conditional updates lost to a concurrent writer are recomputed this many times.
MAX_RETRIES = 20
# The retry hint of a payOrder for an order payments has not learnt of yet.
RETRY_UNKNOWN_ORDER_AFTER_SECONDS = 0.5


@dataclass(frozen=True)
class PayRequest:
    """A payOrder request that passed every input check."""

    order_id: str
    card: CardDetails
    idempotency_key: str


def check_idempotency_key(key: str) -> str:
    if not MIN_KEY_LENGTH <= len(key) <= MAX_KEY_LENGTH:
        raise BadUserInput(
            f"idempotencyKey must be {MIN_KEY_LENGTH} to {MAX_KEY_LENGTH} characters.",
            field="idempotencyKey",
        )
    return key


def check_refund_amount(amount: int | None) -> int | None:
    if amount is not None and amount < 1:
        raise BadUserInput("A refund amount must be at least 1 (minor units).", field="amount")
    return amount


def canonical_request_hash(order: OrderProjection, card: CardDetails, fingerprint_key: str) -> str:
    """What makes two payOrder requests "the same": order, card and amount."""
    fingerprint = card.fingerprint(fingerprint_key.encode())
    canonical = json.dumps(
        [order.id, fingerprint, order.total.amount, order.total.currency],
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def order_not_known_yet(order_id: str) -> ServiceUnavailable:
    """Payments learns of an order from its order.placed event, which may still
    be on its way: the client retries (payOrder with the same key)."""
    return ServiceUnavailable(
        f"Order {order_id} is not known to payments yet; retry shortly "
        "(an order that does not exist never becomes known).",
        retryable=True,
        retryAfterSeconds=RETRY_UNKNOWN_ORDER_AFTER_SECONDS,
    )


def new_id() -> str:
    return uuid.uuid4().hex


def utcnow() -> datetime:
    return datetime.now(UTC)


class Payments:
    def __init__(
        self,
        store: PaymentStore,
        processor: CardProcessor,
        settings: Settings,
    ) -> None:
        self._store = store
        self._processor = processor
        self._settings = settings
        self._arrivals = OrderArrivals()

    # --- payOrder -------------------------------------------------------------

    async def pay_order(
        self, payer: Principal, request: PayRequest, traceparent: str | None
    ) -> PaymentRecord:
        order = (await self.wait_for_orders([request.order_id])).get(request.order_id)
        if order is None:
            raise order_not_known_yet(request.order_id)
        # Only the customer pays: an ADMIN paying someone else's order would
        # charge a card for an order they do not own.
        if order.customer_id != payer.user_id:
            raise Forbidden("Only the order's customer can pay for it.")

        key_id = f"{payer.user_id}:{request.idempotency_key}"
        request_hash = canonical_request_hash(order, request.card, self._settings.card_fingerprint_key)
        for _ in range(MAX_RETRIES):
            payment_id = new_id()
            earlier = await self._store.reserve_idempotency_key(
                IdempotencyKey(
                    id=key_id,
                    payer_id=payer.user_id,
                    order_id=order.id,
                    request_hash=request_hash,
                    payment_id=payment_id,
                    created_at=utcnow(),
                )
            )
            if earlier is None:
                return await self._charge(order, payer, request.card, payment_id, key_id, traceparent)
            if earlier.request_hash != request_hash:
                raise BadUserInput(
                    "This idempotencyKey was already used for a different payment request.",
                    field="idempotencyKey",
                )
            replayed = await self._await_settled(earlier.payment_id, key_id)
            if replayed is not None:
                return replayed
            # The first request with this key was refused and released the key: try it ourselves.
        raise Conflict("This payment request keeps being retried concurrently; try again.")

    async def _charge(
        self,
        order: OrderProjection,
        payer: Principal,
        card: CardDetails,
        payment_id: str,
        key_id: str,
        traceparent: str | None,
    ) -> PaymentRecord:
        now = utcnow()
        payment = PaymentRecord(
            id=payment_id,
            order_id=order.id,
            payer_id=payer.user_id,
            amount=order.total,
            status=PaymentStatus.PENDING,
            card=CardRecord(brand=card.summary.brand, last4=card.summary.last4),
            failure_reason=None,
            refunded_amount=0,
            refunds=(),
            created_at=now,
            updated_at=now,
            applied_events=(),
            order_bucket=order.order_bucket,
        )
        await self._store.insert_payment(payment)
        if not await self._store.claim_order(order.id, payment_id, now):
            await self._store.delete_pending_payment(payment_id)
            await self._store.release_idempotency_key(key_id, payment_id)
            raise await self._claim_refused(order.id)
        try:
            async with stepped_aside():  # the processor answers in its own time
                result = await asyncio.wait_for(
                    self._processor.charge(
                        reference=payment_id,
                        card=card,
                        amount=order.total.amount,
                        currency=order.total.currency,
                    ),
                    timeout=self._settings.charge_timeout_seconds,
                )
        except TimeoutError:
            log.warning("charge of payment %s timed out; recovery settles it", payment_id)
            raise ServiceUnavailable(
                "The card processor did not answer in time; retry with the same idempotencyKey "
                "to learn the outcome.",
                retryable=True,
                retryAfterSeconds=self._settings.stale_payment_seconds,
            ) from None
        return await self._settle(payment, order, result.decline_reason, traceparent)

    async def _claim_refused(self, order_id: str) -> Conflict:
        order = (await self._store.orders_by_ids([order_id])).get(order_id)
        if order is not None and order.status == ORDER_CANCELLED:
            return Conflict("This order was cancelled; it cannot be paid.")
        return Conflict("This order is already paid, or a payment for it is in progress.")

    async def _settle(
        self,
        payment: PaymentRecord,
        order: OrderProjection,
        decline_reason: str | None,
        traceparent: str | None,
    ) -> PaymentRecord:
        """Records the processor's answer: approved when `decline_reason` is None."""
        now = utcnow()
        event = (
            events.payment_captured(payment, order, now, traceparent)
            if decline_reason is None
            else events.payment_failed(payment, decline_reason, traceparent)
        )
        settled = await self._store.settle_payment(payment.id, event, at=now, decline_reason=decline_reason)
        if settled is None:  # settled meanwhile by recovery: report what it decided
            settled = await self._store.find_payment(payment.id)
            assert settled is not None, "payments are never deleted"
        if settled.status == PaymentStatus.FAILED:
            await self._store.release_order_claim(order.id, payment.id, now)
            return settled
        # The order may have been cancelled while this charge was in flight: its
        # cancellation found the payment PENDING and left the refund to us.
        current = await self._store.confirm_order_claim(order.id, payment.id, now)
        if current is not None and current.status == ORDER_CANCELLED:
            assert current.cancel_event_id is not None, "a cancelled projection names its cancellation"
            await self._refund_rest(settled, current.cancel_event_id, traceparent)
            refreshed = await self._store.find_payment(payment.id)
            assert refreshed is not None, "payments are never deleted"
            return refreshed
        return settled

    async def _await_settled(self, payment_id: str, key_id: str) -> PaymentRecord | None:
        """The payment a duplicate request refers to, once settled; None if the key was released."""
        deadline = asyncio.get_running_loop().time() + self._settings.idempotency_wait_seconds
        pause = 0.02
        while True:
            payment = await self._store.find_payment(payment_id)
            if payment is not None and payment.status != PaymentStatus.PENDING:
                return payment
            if payment is None:
                record = await self._store.find_idempotency_key(key_id)
                if record is None or record.payment_id != payment_id:
                    return None
                if record.created_at < utcnow() - timedelta(seconds=self._settings.stale_payment_seconds):
                    # Its request died before creating the payment: free the key.
                    await self._store.release_idempotency_key(key_id, payment_id)
                    return None
            if asyncio.get_running_loop().time() >= deadline:
                raise Conflict("A payment with this idempotencyKey is still being processed; retry shortly.")
            async with stepped_aside():  # the first request needs the slot more than we do
                await asyncio.sleep(pause)
            pause = min(pause * 1.5, 0.25)

    def order_recorded(self, order_id: str) -> None:
        """The consumer has just written this order's projection: wakes who waits for it."""
        self._arrivals.recorded(order_id)

    async def wait_for_orders(self, order_ids: list[str]) -> dict[str, OrderProjection]:
        """Order projections by id, waiting briefly for ones whose order.placed is in flight."""
        loop = asyncio.get_running_loop()
        with self._arrivals.watching(order_ids) as arrived:
            found = await self._store.orders_by_ids(order_ids)
            deadline = loop.time() + self._settings.order_wait_seconds
            while len(found) < len(set(order_ids)) and (left := deadline - loop.time()) > 0:
                with contextlib.suppress(TimeoutError):
                    async with stepped_aside():  # the consumer records it, outside any request
                        await asyncio.wait_for(arrived.wait(), timeout=min(left, FALLBACK_POLL_SECONDS))
                arrived.clear()
                found.update(await self._store.orders_by_ids([i for i in order_ids if i not in found]))
        return found

    # --- refunds --------------------------------------------------------------

    async def refund(self, payment_id: str, amount: int | None, traceparent: str | None) -> PaymentRecord:
        """Refunds `amount` (default: all that remains) of a payment; ADMIN checked by the caller."""
        for _ in range(MAX_RETRIES):
            payment = await self._store.find_payment(payment_id)
            if payment is None:
                raise NotFound(f"Payment {payment_id} does not exist.")
            if payment.status not in REFUNDABLE:
                raise Conflict(
                    f"Only a CAPTURED or PARTIALLY_REFUNDED payment can be refunded; this one is "
                    f"{payment.status}."
                )
            remaining = payment.amount.amount - payment.refunded_amount
            refund_amount = remaining if amount is None else amount
            if not 1 <= refund_amount <= remaining:
                raise BadUserInput(
                    f"The refund amount must be between 1 and {remaining} (what remains refundable).",
                    field="amount",
                )
            refunded = await self._record_refund(payment, refund_amount, "requested", traceparent)
            if refunded is not None:
                return refunded
        raise Conflict("The payment kept changing while refunding it; try again.")

    async def refund_cancelled_order(self, order: OrderProjection, event: Event) -> None:
        """Refunds in full every captured payment of a cancelled order, once per cancellation.

        A payment still PENDING is refunded by whoever settles it (`_settle` reads
        the projection, CANCELLED by now, after capturing), so the money comes
        back whichever of the two happens first.
        """
        payments = (await self._store.payments_of_orders([OrderRef(order.id)])).get(order.id, [])
        cancellation_id = order.cancel_event_id or event.id
        for payment in payments:
            await self._refund_rest(payment, cancellation_id, traceparent_or(event.traceparent))

    async def _refund_rest(
        self, payment: PaymentRecord, cancellation_id: str, traceparent: str | None
    ) -> None:
        """Refunds what remains of the payment, once for this cancellation whoever asks."""
        current: PaymentRecord | None = payment
        for _ in range(MAX_RETRIES):
            if current is None or current.status not in REFUNDABLE:
                return
            if cancellation_id in current.applied_events:
                return
            remaining = current.amount.amount - current.refunded_amount
            refunded = await self._record_refund(
                current, remaining, "order_cancelled", traceparent, applied_event_id=cancellation_id
            )
            if refunded is not None:
                return
            current = await self._store.find_payment(payment.id)
        raise Conflict(f"payment {payment.id} kept changing while refunding it")

    async def _record_refund(
        self,
        payment: PaymentRecord,
        amount: int,
        reason: str,
        traceparent: str | None,
        applied_event_id: str | None = None,
    ) -> PaymentRecord | None:
        now = utcnow()
        fully = payment.refunded_amount + amount == payment.amount.amount
        updated = await self._store.record_refund(
            payment,
            refund=Refund(id=new_id(), amount=amount, reason=reason, at=now),
            status=PaymentStatus.REFUNDED if fully else PaymentStatus.PARTIALLY_REFUNDED,
            event=events.payment_refunded(payment, amount, traceparent),
            at=now,
            applied_event_id=applied_event_id,
        )
        return updated

    # --- maintenance ----------------------------------------------------------

    async def purge_idempotency_keys(self) -> int:
        retention = timedelta(days=self._settings.idempotency_retention_days)
        return await self._store.purge_idempotency_keys(utcnow() - retention)

    async def recover_interrupted(self) -> None:
        """Settles charges a crash left PENDING, frees claims of FAILED payments and
        confirms those of captured ones (a crash between settling and confirming)."""
        stale_before = utcnow() - timedelta(seconds=self._settings.stale_payment_seconds)
        for payment in await self._store.pending_payments_older_than(stale_before):
            order = (await self._store.orders_by_ids([payment.order_id])).get(payment.order_id)
            if order is None:
                continue
            charge = await self._processor.lookup(payment.id)
            # No record at the processor: the charge never reached it, nothing was taken.
            decline_reason = INTERRUPTED if charge is None else charge.decline_reason
            log.warning("recovering interrupted payment %s", payment.id)
            await self._settle(payment, order, decline_reason, traceparent=None)
        for order in await self._store.claims_older_than(stale_before):
            if order.capturing_payment_id is None:
                continue
            holder = await self._store.find_payment(order.capturing_payment_id)
            if holder is None or holder.status == PaymentStatus.PENDING:
                continue  # PENDING: settled by the loop above once it is stale
            if holder.status == PaymentStatus.FAILED:
                log.warning("releasing the claim of failed payment %s on order %s", holder.id, order.id)
                await self._store.release_order_claim(order.id, holder.id, utcnow())
            else:
                await self._store.confirm_order_claim(order.id, holder.id, utcnow())
