"""Copies of seeded orders: fresh identities, the same documents otherwise."""

import re
import uuid
from datetime import UTC, datetime

from bench.clone import DeliveryRecord, OrderBundle, copy_of

CUSTOMER = uuid.uuid4().hex
NEW_CUSTOMER = uuid.uuid4().hex
ADMIN = uuid.uuid4().hex
ORDER = uuid.uuid4().hex
PAYMENT = uuid.uuid4().hex
DELIVERY = uuid.uuid4().hex
TRACKING = "SGABCDEFGHIJKLMNOP"
REQUEST_HASH = "ab" * 32
PLACED_AT = datetime(2026, 11, 26, 4, 0, tzinfo=UTC)


def template() -> OrderBundle:
    order = {
        "_id": ORDER,
        "number": "SG-000012",
        "customerId": CUSTOMER,
        "total": {"amount": 1999, "currency": "EUR"},
        "createdAt": PLACED_AT,
        "outbox": [{"id": uuid.uuid4().hex}],
        "outboxPending": True,
    }
    payment = {"_id": PAYMENT, "orderId": ORDER, "payerId": CUSTOMER, "outbox": [], "createdAt": PLACED_AT}
    key = {"_id": f"{CUSTOMER}:bench-seed-{ORDER}-1", "orderId": ORDER, "requestHash": REQUEST_HASH}
    record = (
        f'{{"id": "{DELIVERY}", "orderId": "{ORDER}", "recipientId": "{CUSTOMER}", '
        f'"trackingNumber": "{TRACKING}"}}'
    )
    event = f'{{"status": "IN_TRANSIT", "by": "{ADMIN}"}}'
    return OrderBundle(
        order_id=ORDER,
        customer_id=CUSTOMER,
        number="SG-000012",
        order=order,
        projection={"_id": ORDER, "customerId": CUSTOMER, "capturingPaymentId": PAYMENT},
        payments=[payment],
        idempotency_keys=[key],
        delivery=DeliveryRecord(DELIVERY, record, [event], TRACKING, 1764129600.0),
    )


def test_a_copy_belongs_to_the_new_customer_under_fresh_ids() -> None:
    copy = copy_of(template(), NEW_CUSTOMER, "SG-004321", frozenset({CUSTOMER, NEW_CUSTOMER, ADMIN}))

    assert copy.customer_id == NEW_CUSTOMER
    assert copy.order_id != ORDER
    assert re.fullmatch(r"[0-9a-f]{32}", copy.order_id)
    assert copy.number == "SG-004321"
    assert copy.projection == {
        "_id": copy.order_id,
        "customerId": NEW_CUSTOMER,
        "capturingPaymentId": copy.payments[0]["_id"],
    }
    assert copy.payments[0]["_id"] != PAYMENT
    assert copy.payments[0]["orderId"] == copy.order_id
    assert copy.payments[0]["payerId"] == NEW_CUSTOMER
    assert copy.idempotency_keys[0]["_id"] == f"{NEW_CUSTOMER}:bench-seed-{copy.order_id}-1"


def test_a_copy_keeps_everything_that_is_not_an_identity() -> None:
    copy = copy_of(template(), NEW_CUSTOMER, "SG-004321", frozenset({CUSTOMER, ADMIN}))

    assert copy.order["total"] == {"amount": 1999, "currency": "EUR"}
    assert copy.order["createdAt"] == PLACED_AT
    assert copy.idempotency_keys[0]["requestHash"] == REQUEST_HASH
    assert copy.delivery is not None
    assert copy.delivery.score == 1764129600.0
    assert copy.delivery.events == [f'{{"status": "IN_TRANSIT", "by": "{ADMIN}"}}']


def test_a_copy_has_its_own_delivery_and_an_empty_outbox() -> None:
    copy = copy_of(template(), NEW_CUSTOMER, "SG-004321", frozenset({CUSTOMER, ADMIN}))

    assert copy.delivery is not None
    assert copy.delivery.id != DELIVERY
    assert copy.delivery.tracking_number != TRACKING
    assert re.fullmatch(r"SG[A-Z2-7]{16}", copy.delivery.tracking_number)
    assert f'"id": "{copy.delivery.id}"' in copy.delivery.json
    assert f'"orderId": "{copy.order_id}"' in copy.delivery.json
    assert f'"trackingNumber": "{copy.delivery.tracking_number}"' in copy.delivery.json
    assert copy.order["outbox"] == []
    assert "outboxPending" not in copy.order


def test_two_copies_of_one_template_share_no_identity() -> None:
    users = frozenset({CUSTOMER, ADMIN})
    first = copy_of(template(), NEW_CUSTOMER, "SG-004321", users)
    second = copy_of(template(), NEW_CUSTOMER, "SG-004322", users)

    assert first.order_id != second.order_id
    assert first.payments[0]["_id"] != second.payments[0]["_id"]
    assert first.delivery is not None
    assert second.delivery is not None
    assert first.delivery.tracking_number != second.delivery.tracking_number
