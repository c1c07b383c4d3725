"""The orders service's rules: the order state machine, and turning a basket into a priced order.

The state machine:

    from                              to               made by
    PENDING_PAYMENT, PAYMENT_FAILED   PAID             payment.captured
    PENDING_PAYMENT                   PAYMENT_FAILED   payment.failed
    PENDING_PAYMENT, PAYMENT_FAILED,  SHIPPED          shipOrder (delivery asks, before its
    PAID                                               parcel goes IN_TRANSIT)
    PAID                              SHIPPED          delivery.status_changed (IN_TRANSIT)
    PAID, SHIPPED                     DELIVERED        delivery.status_changed (DELIVERED)
    PENDING_PAYMENT, PAYMENT_FAILED,  CANCELLED        cancelOrder
    PAID

Whether an order may still be cancelled is decided here, on the order alone:
delivery asks orders to mark the order shipped (`shipOrder`) before the carrier
takes the parcel, and is refused once the order is cancelled; once it is
shipped, cancelOrder is refused. The two requests are serialized on the order's
document, so exactly one of them wins. shipOrder accepts an order whose
payment.captured orders has not applied yet: delivery only has a parcel for a
captured payment.

Consumed events never move an order backwards: an event that does not apply
to the current status is only recorded, except a delivery update that arrives
before the payment it depends on, which must wait (`NotYetApplicable`).

Checkout happens before anything is written. Prices come from the catalog,
never from the client: the client names SKUs and quantities only. Totals are
integer minor units in the one currency of the order.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from orders.store import HistoryEntry, OrderLine, OrderRecord, OrderStatus, ProductRecord
from shopkit.errors import BadUserInput, Conflict
from shopkit.records import Amount, StoredAddress

CANCELLABLE = frozenset({OrderStatus.PENDING_PAYMENT, OrderStatus.PAYMENT_FAILED, OrderStatus.PAID})
AWAITING_PAYMENT = frozenset({OrderStatus.PENDING_PAYMENT, OrderStatus.PAYMENT_FAILED})
# What can still be cancelled can still ship, and nothing else: the order decides between the two.
SHIPPABLE = CANCELLABLE
# shipOrder on an order in one of these answers it unchanged: asking again is safe.
SHIPPED_ALREADY = frozenset({OrderStatus.SHIPPED, OrderStatus.DELIVERED})

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


def check_cancellable(number: str, status: OrderStatus) -> None:
    """Raises CONFLICT, saying why, unless the order numbered `number`, in `status`, may be cancelled."""
    refusal = cancel_refusal(status)
    if refusal is not None:
        raise Conflict(f"Order {number} {refusal}.", status=status.value)


def check_shippable(number: str, status: OrderStatus) -> None:
    """Raises CONFLICT unless the order numbered `number`, in `status`, may ship (or has)."""
    if status is OrderStatus.CANCELLED:
        raise Conflict(f"Order {number} was cancelled and cannot ship.", status=status.value)


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


# Checkout.

MAX_LINES = 50
MIN_QUANTITY = 1
MAX_QUANTITY = 100
MAX_SKU_LENGTH = 64
ORDER_NUMBER_PREFIX = "SG-"


@dataclass(frozen=True)
class Line:
    sku: str
    quantity: int


@dataclass(frozen=True)
class PricedOrder:
    items: tuple[OrderLine, ...]
    total: Amount


def merge_lines(lines: Sequence[Line]) -> list[Line]:
    """Checks the basket and merges lines naming the same SKU (quantities add up).

    Each line, and each SKU once merged, must have a quantity within 1..100.
    """
    if not lines:
        raise BadUserInput("An order needs at least one item.", field="items")
    if len(lines) > MAX_LINES:
        raise BadUserInput(f"An order has at most {MAX_LINES} lines.", field="items")
    merged: dict[str, int] = {}
    for line in lines:
        sku = line.sku.strip()
        if not sku or len(sku) > MAX_SKU_LENGTH:
            raise BadUserInput(f"A SKU has 1 to {MAX_SKU_LENGTH} characters.", field="items")
        _check_quantity(sku, line.quantity)
        merged[sku] = merged.get(sku, 0) + line.quantity
    for sku, quantity in merged.items():
        _check_quantity(sku, quantity)
    return [Line(sku=sku, quantity=quantity) for sku, quantity in merged.items()]


def _check_quantity(sku: str, quantity: int) -> None:
    if not MIN_QUANTITY <= quantity <= MAX_QUANTITY:
        raise BadUserInput(
            f"Quantity of {sku} must be between {MIN_QUANTITY} and {MAX_QUANTITY}, not {quantity}.",
            field="items",
            sku=sku,
        )


def price(lines: Sequence[Line], catalog: Mapping[str, ProductRecord]) -> PricedOrder:
    """Prices the lines from `catalog` (products by SKU)."""
    unknown = [line.sku for line in lines if line.sku not in catalog]
    if unknown:
        raise BadUserInput(f"Unknown SKU: {', '.join(unknown)}.", field="items", skus=unknown)
    currencies = {catalog[line.sku].price.currency for line in lines}
    if len(currencies) != 1:
        raise BadUserInput("All items of an order must be priced in one currency.", field="items")
    items = tuple(
        OrderLine(
            sku=line.sku,
            name=catalog[line.sku].name,
            quantity=line.quantity,
            unit_price=catalog[line.sku].price,
        )
        for line in lines
    )
    amount = sum(item.unit_price.amount * item.quantity for item in items)
    return PricedOrder(items=items, total=Amount(amount=amount, currency=currencies.pop()))


def order_number(sequence: int) -> str:
    return f"{ORDER_NUMBER_PREFIX}{sequence:06d}"


def new_order(
    *,
    order_id: str,
    number: str,
    customer_id: str,
    customer_seq: int,
    priced: PricedOrder,
    shipping_address: StoredAddress,
    now: datetime,
) -> OrderRecord:
    """The order as first stored (the store adds its outbox)."""
    status = OrderStatus.PENDING_PAYMENT
    return OrderRecord(
        id=order_id,
        number=number,
        customer_id=customer_id,
        customer_seq=customer_seq,
        status=status,
        items=priced.items,
        total=priced.total,
        shipping_address=shipping_address,
        created_at=now,
        updated_at=now,
        history=(HistoryEntry(status=status, at=now, event="order.placed"),),
    )
