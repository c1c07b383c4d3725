"""Events: the ones payments produces, and its handlers for the orders stream.

Produced (through the outbox of the payment document): `payment.captured`,
`payment.failed`, `payment.refunded`; schemas in events/schemas/.
Consumed (group "payments", stream shopgraph.events.orders):
- `order.placed` → the order projection payOrder checks against;
- `order.cancelled` → projection CANCELLED, every captured payment refunded in full.
"""

import logging
from datetime import UTC, datetime
from typing import Any, Protocol

from payments.config import SERVICE
from payments.store import ORDER_OPEN, OrderProjection, PaymentRecord, PaymentStore
from shopkit.events.envelope import Event, stream_for
from shopkit.history import bucket_of
from shopkit.records import Amount

log = logging.getLogger(__name__)

ORDERS_STREAM = stream_for("orders")


def _money(amount: int, currency: str) -> dict[str, Any]:
    return {"amount": amount, "currency": currency}


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def payment_captured(
    payment: PaymentRecord, order: OrderProjection, at: datetime, traceparent: str | None
) -> Event:
    return Event(
        type="payment.captured",
        producer=SERVICE,
        traceparent=traceparent,
        data={
            "paymentId": payment.id,
            "orderId": payment.order_id,
            "customerId": payment.payer_id,
            "amount": _money(payment.amount.amount, payment.amount.currency),
            "shippingAddress": dict(order.shipping_address),
            "capturedAt": _iso(at),
        },
    )


def payment_failed(payment: PaymentRecord, reason: str, traceparent: str | None) -> Event:
    return Event(
        type="payment.failed",
        producer=SERVICE,
        traceparent=traceparent,
        data={
            "paymentId": payment.id,
            "orderId": payment.order_id,
            "customerId": payment.payer_id,
            "amount": _money(payment.amount.amount, payment.amount.currency),
            "reason": reason,
        },
    )


def payment_refunded(payment: PaymentRecord, amount: int, traceparent: str | None) -> Event:
    """The event for refunding `amount` more of `payment` (as it was before the refund)."""
    currency = payment.amount.currency
    refunded_total = payment.refunded_amount + amount
    return Event(
        type="payment.refunded",
        producer=SERVICE,
        traceparent=traceparent,
        data={
            "paymentId": payment.id,
            "orderId": payment.order_id,
            "customerId": payment.payer_id,
            "amount": _money(amount, currency),
            "refundedTotal": _money(refunded_total, currency),
            "fullyRefunded": refunded_total == payment.amount.amount,
        },
    )


def order_projection(event: Event) -> OrderProjection:
    """What payments keeps of a placed order."""
    data = event.data
    total = data["total"]
    address = data["shippingAddress"]
    customer_id, sequence = str(data["customerId"]), data.get("customerSequence")
    now = datetime.now(UTC)
    return OrderProjection(
        id=str(data["orderId"]),
        number=str(data.get("number", "")),
        customer_id=customer_id,
        total=Amount(amount=int(total["amount"]), currency=str(total["currency"])),
        shipping_address={
            "line1": address["line1"],
            "line2": address.get("line2"),
            "city": address["city"],
            "postalCode": address["postalCode"],
            "country": address["country"],
        },
        status=ORDER_OPEN,
        capturing_payment_id=None,
        placed_at=datetime.fromisoformat(data["placedAt"]) if data.get("placedAt") else now,
        created_at=now,
        updated_at=now,
        applied_events=(event.id,),
        order_bucket=bucket_of(customer_id, int(sequence)) if sequence is not None else None,
    )


class OrderNotProjectedYet(Exception):
    """order.cancelled came before order.placed: the consumer retries it later."""


class OrderEffects(Protocol):
    """What the orders stream's events set off beyond the store (`payments.rules.Payments`)."""

    def order_recorded(self, order_id: str) -> None: ...

    async def refund_cancelled_order(self, order: OrderProjection, event: Event) -> None: ...


class OrderEventHandler:
    """Handles the orders stream's events; every effect is idempotent by event id."""

    def __init__(self, store: PaymentStore, payments: OrderEffects) -> None:
        self._store = store
        self._payments = payments

    async def __call__(self, event: Event) -> None:
        if event.type == "order.placed":
            projection = order_projection(event)
            await self._store.record_order_placed(projection)
            self._payments.order_recorded(projection.id)
        elif event.type == "order.cancelled":
            await self._on_order_cancelled(event)
        else:
            log.debug("payments ignores %s events", event.type)

    async def _on_order_cancelled(self, event: Event) -> None:
        order_id = str(event.data["orderId"])
        order = await self._store.mark_order_cancelled(order_id, event.id, datetime.now(UTC))
        if order is None:
            raise OrderNotProjectedYet(f"order {order_id} cancelled before payments saw it placed")
        await self._payments.refund_cancelled_order(order, event)
