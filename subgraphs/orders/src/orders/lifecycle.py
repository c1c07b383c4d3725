"""The order state machine: the statuses, and which moves are legal.

    from                              to               made by
    PENDING_PAYMENT, PAYMENT_FAILED   PAID             payment.captured
    PENDING_PAYMENT                   PAYMENT_FAILED   payment.failed
    PAID                              SHIPPED          delivery.status_changed (IN_TRANSIT)
    PAID, SHIPPED                     DELIVERED        delivery.status_changed (DELIVERED)
    PENDING_PAYMENT, PAYMENT_FAILED,  CANCELLED        cancelOrder
    PAID

Consumed events never move an order backwards: an event that does not apply
to the current status is only recorded, except a delivery update that arrives
before the payment it depends on, which must wait (`NotYetApplicable`).
"""

import enum
from collections.abc import Mapping
from typing import Any


class OrderStatus(enum.Enum):
    PENDING_PAYMENT = "PENDING_PAYMENT"
    PAID = "PAID"
    SHIPPED = "SHIPPED"
    DELIVERED = "DELIVERED"
    CANCELLED = "CANCELLED"
    PAYMENT_FAILED = "PAYMENT_FAILED"


CANCELLABLE = frozenset({OrderStatus.PENDING_PAYMENT, OrderStatus.PAYMENT_FAILED, OrderStatus.PAID})
AWAITING_PAYMENT = frozenset({OrderStatus.PENDING_PAYMENT, OrderStatus.PAYMENT_FAILED})

_CANCEL_REFUSALS = {
    OrderStatus.SHIPPED: "has already shipped and can no longer be cancelled",
    OrderStatus.DELIVERED: "has already been delivered and can no longer be cancelled",
    OrderStatus.CANCELLED: "is already cancelled",
}


def cancel_refusal(status: OrderStatus) -> str | None:
    """Why an order in `status` cannot be cancelled, or None if it can."""
    if status in CANCELLABLE:
        return None
    return _CANCEL_REFUSALS[status]


class NotYetApplicable(Exception):
    """The event depends on one that has not been applied yet; retry it later."""


def status_after(event_type: str, data: Mapping[str, Any], current: OrderStatus) -> OrderStatus:
    """The order's status once the consumed event is applied (== current: record only)."""
    if event_type == "payment.captured":
        # A capture for a cancelled order leaves it cancelled: payments refunds
        # it when it sees order.cancelled.
        return OrderStatus.PAID if current in AWAITING_PAYMENT else current
    if event_type == "payment.failed":
        # Only a pending order fails: a late failure never downgrades a paid one.
        return OrderStatus.PAYMENT_FAILED if current is OrderStatus.PENDING_PAYMENT else current
    if event_type == "delivery.status_changed":
        return _after_delivery_status(str(data["status"]), current)
    return current


def _after_delivery_status(delivery_status: str, current: OrderStatus) -> OrderStatus:
    if delivery_status not in ("IN_TRANSIT", "DELIVERED"):
        return current
    if current in AWAITING_PAYMENT:
        raise NotYetApplicable(f"delivery is {delivery_status} but the order is still {current.value}")
    if delivery_status == "IN_TRANSIT":
        return OrderStatus.SHIPPED if current is OrderStatus.PAID else current
    return OrderStatus.DELIVERED if current in (OrderStatus.PAID, OrderStatus.SHIPPED) else current
