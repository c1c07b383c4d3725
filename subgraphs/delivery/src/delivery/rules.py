"""The delivery service's rules: a delivery's statuses and moves, and how one is scheduled.

    SCHEDULED   -> IN_TRANSIT, FAILED     a carrier's update (an ADMIN: updateDeliveryStatus)
    IN_TRANSIT  -> DELIVERED, FAILED      a carrier's update
    SCHEDULED   -> CANCELLED              order.cancelled, and nothing else

The store applies these inside its transactions (`store.DeliveryStore`). A
move to IN_TRANSIT is first confirmed by orders (`delivery.orders`), which
decides, on the order alone, whether it may still be cancelled: once orders
has marked the order shipped, it refuses cancelOrder; once the order is
cancelled, it refuses the shipment, and so does delivery.
"""

import base64
import enum
import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from shopkit.errors import Conflict

CARRIERS = ("DHL", "UPS", "DPD", "PostNL")


class DeliveryStatus(enum.Enum):
    SCHEDULED = "SCHEDULED"
    IN_TRANSIT = "IN_TRANSIT"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


# What the carrier (an ADMIN through `updateDeliveryStatus`) may do. CANCELLED
# is not in here: only an `order.cancelled` event cancels, and only SCHEDULED.
CARRIER_TRANSITIONS: dict[DeliveryStatus, frozenset[DeliveryStatus]] = {
    DeliveryStatus.SCHEDULED: frozenset({DeliveryStatus.IN_TRANSIT, DeliveryStatus.FAILED}),
    DeliveryStatus.IN_TRANSIT: frozenset({DeliveryStatus.DELIVERED, DeliveryStatus.FAILED}),
}
CANCELLABLE = frozenset({DeliveryStatus.SCHEDULED})
# The carrier takes the parcel: from here on the order can no longer be cancelled.
NEEDS_ORDERS_CONFIRMATION = frozenset({DeliveryStatus.IN_TRANSIT})


def check_carrier_move(current: DeliveryStatus, status: DeliveryStatus) -> None:
    """Raises CONFLICT unless the carrier may move a `current` delivery to `status`."""
    if status not in CARRIER_TRANSITIONS.get(current, frozenset()):
        raise Conflict(f"A {current.value} delivery cannot become {status.value}.", status=current.value)


def new_tracking_number() -> str:
    """ "SG" and 80 random bits in base32: unguessable, so it can be shown publicly."""
    return "SG" + base64.b32encode(secrets.token_bytes(10)).decode()


def carrier_for(order_id: str) -> str:
    """The same order always goes with the same carrier."""
    return CARRIERS[_order_digest(order_id)[0] % len(CARRIERS)]


def estimated_delivery(order_id: str, scheduled_at: datetime) -> datetime:
    """End of the working day 3 to 5 business days after scheduling."""
    business_days = 3 + _order_digest(order_id)[1] % 3
    day = scheduled_at.astimezone(UTC)
    while business_days > 0:
        day += timedelta(days=1)
        if day.weekday() < 5:
            business_days -= 1
    return day.replace(hour=18, minute=0, second=0, microsecond=0)


def _order_digest(order_id: str) -> bytes:
    return hashlib.sha256(order_id.encode()).digest()
