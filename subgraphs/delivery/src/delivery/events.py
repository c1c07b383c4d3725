"""Delivery's events: the ones it produces and the ones it consumes.

Produced on `shopgraph.events.delivery` (schemas in events/schemas/):
- `delivery.scheduled` when a captured payment creates the order's delivery;
- `delivery.status_changed` on every later transition (carrier update or cancellation).

Consumed in the consumer group "delivery":
- `payment.captured` (payments) creates the order's one delivery, unless the
  order was cancelled first;
- `order.cancelled` (orders) leaves a tombstone and cancels a SCHEDULED delivery.
Other event types on those streams are not ours and are acknowledged untouched.
Produced events leave through the store's outbox (`store.DeliveryOutbox`).
"""

import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from delivery.rules import DeliveryStatus, carrier_for, estimated_delivery, new_tracking_number
from delivery.store import DeliveryRecord, DeliveryStore, StatusChange, TrackingEntry
from shopkit.events.envelope import Event, stream_for
from shopkit.tracing import traceparent_or

log = logging.getLogger(__name__)

SERVICE = "delivery"
STREAM = stream_for(SERVICE)
CONSUMED_STREAMS = [stream_for("payments"), stream_for("orders")]

# Producer side.


def delivery_scheduled(delivery: DeliveryRecord, traceparent: str | None) -> Event:
    return Event(
        type="delivery.scheduled",
        producer=SERVICE,
        traceparent=traceparent,
        data={
            "deliveryId": delivery.id,
            "orderId": delivery.order_id,
            "recipientId": delivery.recipient_id,
            "carrier": delivery.carrier,
            "trackingNumber": delivery.tracking_number,
            "estimatedDelivery": None
            if delivery.estimated_delivery is None
            else delivery.estimated_delivery.isoformat(),
        },
    )


def delivery_status_changed(change: StatusChange, traceparent: str | None) -> Event:
    return Event(
        type="delivery.status_changed",
        producer=SERVICE,
        traceparent=traceparent,
        data={
            "deliveryId": change.delivery.id,
            "orderId": change.delivery.order_id,
            "status": change.delivery.status.value,
            "previousStatus": change.previous_status.value,
            "note": change.entry.note,
            "at": change.entry.at.isoformat(),
        },
    )


def new_delivery(
    *, order_id: str, recipient_id: str, address: dict[str, str | None], now: datetime
) -> tuple[DeliveryRecord, TrackingEntry]:
    carrier = carrier_for(order_id)
    delivery = DeliveryRecord(
        id=uuid.uuid4().hex,
        order_id=order_id,
        recipient_id=recipient_id,
        status=DeliveryStatus.SCHEDULED,
        carrier=carrier,
        tracking_number=new_tracking_number(),
        address=address,
        estimated_delivery=estimated_delivery(order_id, now),
        created_at=now,
        updated_at=now,
    )
    first_entry = TrackingEntry(status=DeliveryStatus.SCHEDULED, at=now, note=f"Handed to {carrier}.")
    return delivery, first_entry


# Consumer side.


class EventHandlers:
    """Applies consumed events to the store; each is idempotent by event id and order id."""

    def __init__(self, store: DeliveryStore) -> None:
        self._store = store

    async def handle(self, event: Event) -> None:
        if event.type == "payment.captured":
            await self.payment_captured(event)
        elif event.type == "order.cancelled":
            await self.order_cancelled(event)

    async def payment_captured(self, event: Event) -> None:
        data = event.data
        delivery, first_entry = new_delivery(
            order_id=_text(data, "orderId"),
            recipient_id=_text(data, "customerId"),
            address=_address(data.get("shippingAddress")),
            now=datetime.now(UTC),
        )
        created = await self._store.create_delivery(
            delivery,
            first_entry,
            delivery_scheduled(delivery, traceparent_or(event.traceparent)),
            applied_event_id=event.id,
        )
        if not created:
            log.info("payment.captured %s for order %s: no new delivery", event.id, delivery.order_id)

    async def order_cancelled(self, event: Event) -> None:
        order_id = _text(event.data, "orderId")
        traceparent = traceparent_or(event.traceparent)
        await self._store.cancel_for_order(
            order_id,
            cancelled_at=datetime.now(UTC),
            applied_event_id=event.id,
            event_for=lambda change: delivery_status_changed(change, traceparent),
        )


def _text(data: dict[str, Any], field: str) -> str:
    value = data.get(field)
    if not isinstance(value, str) or not value:
        raise ValueError(f"event data lacks the string field {field!r}")
    return value


def _address(value: Any) -> dict[str, str | None]:
    if not isinstance(value, dict):
        raise ValueError("event data lacks the shippingAddress object")
    line2 = value.get("line2")
    return {
        "line1": _text(value, "line1"),
        "line2": line2 if isinstance(line2, str) and line2 else None,
        "city": _text(value, "city"),
        "postalCode": _text(value, "postalCode"),
        "country": _text(value, "country"),
    }
