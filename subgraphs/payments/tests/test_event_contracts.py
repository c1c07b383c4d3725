"""Every event payments publishes matches its JSON Schema and carries the request's trace."""

import json
from pathlib import Path
from typing import Any

from conftest import DECLINED_CARD, PAY, REFUND, Shop
from jsonschema import Draft202012Validator

from shopkit.auth import Role

SCHEMAS = Path(__file__).resolve().parents[3] / "events" / "schemas"
PRODUCED = ("payment.captured", "payment.failed", "payment.refunded")
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def validator(event_type: str, version: int) -> Draft202012Validator:
    schema: dict[str, Any] = json.loads((SCHEMAS / f"{event_type}.v{version}.json").read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def test_the_schemas_are_valid_and_closed() -> None:
    for event_type in PRODUCED:
        schema = json.loads((SCHEMAS / f"{event_type}.v1.json").read_text())
        Draft202012Validator.check_schema(schema)
        assert schema["$id"] == f"https://shopgraph.dev/events/{event_type}.v1.json"
        assert schema["additionalProperties"] is False


async def test_every_published_event_matches_its_schema(shop: Shop) -> None:
    traced = {"traceparent": TRACEPARENT}
    paid = await shop.place_order("alice", amount=2500)
    declined = await shop.place_order("alice")
    cancelled = await shop.place_order("alice")
    payment_id = (await shop.pay(paid, as_user="alice"))["data"]["payOrder"]["id"]
    await shop.pay(declined, as_user="alice", card=DECLINED_CARD)
    await shop.pay(cancelled, as_user="alice")
    await shop.gql(REFUND, {"id": payment_id, "amount": 100}, as_user="root", role=Role.ADMIN, headers=traced)
    await shop.cancel_order(cancelled, "alice")
    await shop.eventually(shop.orders_stream_consumed)
    await shop.eventually(shop.outbox_drained)

    events = await shop.published()

    assert sorted(e.type for e in events) == sorted(
        ["payment.captured", "payment.captured", "payment.failed", "payment.refunded", "payment.refunded"]
    )
    for event in events:
        errors = [error.message for error in validator(event.type, event.version).iter_errors(event.data)]
        assert errors == [], (event.type, errors)
        assert event.producer == "payments"
    refund_traces = {e.traceparent for e in events if e.type == "payment.refunded"}
    assert TRACEPARENT in refund_traces


async def test_pay_order_carries_the_trace_into_its_event(shop: Shop) -> None:
    order_id = await shop.place_order("alice")
    variables = {
        "input": {
            "orderId": order_id,
            "card": {"number": "4242424242424242", "expMonth": 1, "expYear": 2090, "cvc": "123"},
            "idempotencyKey": "trace-key-1",
        }
    }

    await shop.gql(PAY, variables, as_user="alice", headers={"traceparent": TRACEPARENT})
    captured = await shop.eventually(lambda: shop.published("payment.captured"))

    assert captured[0].traceparent == TRACEPARENT
