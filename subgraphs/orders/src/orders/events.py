"""Events of the orders service.

Producer side: `order.placed` and `order.cancelled`, written to the order's
outbox by the store and relayed to `shopgraph.events.orders`.

Consumer side: payments and delivery events move orders through their
lifecycle (see `orders.rules`). Each applied event id is recorded on the
order in the same update as its effect (a status change adds a `history`
entry), so a redelivered event changes nothing.
"""

import logging
from datetime import UTC, datetime
from typing import Any

from orders.config import SERVICE
from orders.rules import NotYetApplicable, status_after
from orders.store import HistoryEntry, OrderRecord, OrderStore, utc_now
from shopkit.events.envelope import Event, stream_for
from shopkit.records import Amount

log = logging.getLogger(__name__)

CONSUMED_STREAMS = [stream_for("payments"), stream_for("delivery")]
CONSUMED_TYPES = frozenset(
    {
        "payment.captured",
        "payment.failed",
        "payment.refunded",
        "delivery.scheduled",
        "delivery.status_changed",
    }
)
# Attempts to apply an event while concurrent updates keep changing the order.
MAX_RACES = 5


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def _money(amount: Amount) -> dict[str, Any]:
    return {"amount": amount.amount, "currency": amount.currency}


# -- producer side --------------------------------------------------------------


def order_placed(order: OrderRecord, traceparent: str | None) -> Event:
    data: dict[str, Any] = {
        "orderId": order.id,
        "number": order.number,
        "customerId": order.customer_id,
        "customerSequence": order.customer_seq,
        "items": [
            {
                "sku": item.sku,
                "name": item.name,
                "quantity": item.quantity,
                "unitPrice": _money(item.unit_price),
            }
            for item in order.items
        ],
        "total": _money(order.total),
        "shippingAddress": dict(order.shipping_address),
        "placedAt": _iso(order.created_at),
    }
    return Event(type="order.placed", data=data, producer=SERVICE, traceparent=traceparent)


def order_cancelled(order_id: str, customer_id: str, at: datetime, traceparent: str | None) -> Event:
    data = {"orderId": order_id, "customerId": customer_id, "cancelledAt": _iso(at)}
    return Event(type="order.cancelled", data=data, producer=SERVICE, traceparent=traceparent)


# -- consumer side --------------------------------------------------------------


class UnknownOrder(Exception):
    """An event names an order this service does not (yet) have."""


class ConcurrentUpdates(Exception):
    """The order kept changing while we applied the event; the consumer retries."""


class OrderEventHandler:
    """Applies payments and delivery events to orders, each at most once."""

    def __init__(self, store: OrderStore) -> None:
        self._store = store

    async def __call__(self, event: Event) -> None:
        if event.type not in CONSUMED_TYPES:
            return
        order_id = str(event.data["orderId"])
        for _ in range(MAX_RACES):
            order = await self._store.order_state(order_id)
            if order is None:
                raise UnknownOrder(f"{event.type} {event.id} names unknown order {order_id}")
            if event.id in order.applied_events:
                return
            current = order.status
            try:
                new_status = status_after(event.type, event.data, current)
            except NotYetApplicable:
                log.info(
                    "%s %s for order %s must wait: it is %s", event.type, event.id, order_id, current.value
                )
                raise
            now = utc_now()
            # History lists status changes; an event that changes nothing is only recorded as applied.
            entry = (
                None
                if new_status is current
                else HistoryEntry(status=new_status, at=now, event=event.type, event_id=event.id)
            )
            if await self._store.apply_event(order_id, event.id, current, new_status, entry, now):
                return
        raise ConcurrentUpdates(f"order {order_id} kept changing while applying {event.type} {event.id}")
