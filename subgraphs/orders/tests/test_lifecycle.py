"""What each consumed event does to an order in each status."""

import pytest

from orders.rules import NotYetApplicable, cancel_refusal, status_after
from orders.store import OrderStatus

S = OrderStatus


def delivery(status: str) -> tuple[str, dict[str, str]]:
    return "delivery.status_changed", {"status": status}


CASES = [
    ("payment.captured", {}, S.PENDING_PAYMENT, S.PAID),
    ("payment.captured", {}, S.PAYMENT_FAILED, S.PAID),
    ("payment.captured", {}, S.CANCELLED, S.CANCELLED),
    ("payment.captured", {}, S.PAID, S.PAID),
    ("payment.failed", {}, S.PENDING_PAYMENT, S.PAYMENT_FAILED),
    ("payment.failed", {}, S.PAID, S.PAID),
    ("payment.failed", {}, S.CANCELLED, S.CANCELLED),
    (*delivery("IN_TRANSIT"), S.PAID, S.SHIPPED),
    (*delivery("IN_TRANSIT"), S.DELIVERED, S.DELIVERED),
    (*delivery("IN_TRANSIT"), S.CANCELLED, S.CANCELLED),
    (*delivery("DELIVERED"), S.PAID, S.DELIVERED),
    (*delivery("DELIVERED"), S.SHIPPED, S.DELIVERED),
    (*delivery("FAILED"), S.SHIPPED, S.SHIPPED),
    (*delivery("CANCELLED"), S.CANCELLED, S.CANCELLED),
    ("payment.refunded", {}, S.CANCELLED, S.CANCELLED),
    ("delivery.scheduled", {}, S.PAID, S.PAID),
]


@pytest.mark.parametrize(("event_type", "data", "before", "after"), CASES)
def test_status_after_event(
    event_type: str, data: dict[str, str], before: OrderStatus, after: OrderStatus
) -> None:
    assert status_after(event_type, data, before) is after


@pytest.mark.parametrize("before", [S.PENDING_PAYMENT, S.PAYMENT_FAILED])
@pytest.mark.parametrize("delivery_status", ["IN_TRANSIT", "DELIVERED"])
def test_delivery_progress_before_payment_must_wait(before: OrderStatus, delivery_status: str) -> None:
    with pytest.raises(NotYetApplicable):
        status_after("delivery.status_changed", {"status": delivery_status}, before)


def test_cancel_is_allowed_until_shipping() -> None:
    assert [status for status in S if cancel_refusal(status) is None] == [
        S.PENDING_PAYMENT,
        S.PAID,
        S.PAYMENT_FAILED,
    ]
    assert cancel_refusal(S.SHIPPED) == "has already shipped and can no longer be cancelled"
