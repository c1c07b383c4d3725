"""Asking the orders service to confirm a shipment: the one call delivery makes to another service.

Whether an order may still be cancelled is decided by orders, on the order
alone (`orders.rules`). So before a parcel goes IN_TRANSIT, delivery calls the
orders subgraph's `shipOrder` (a mutation kept out of the API schema with
`@inaccessible`) with the ADMIN token of the carrier update, straight at
ORDERS_URL. Orders marks the order SHIPPED, or refuses because it was
cancelled; after that, cancelOrder is refused. The wire contract is written in
tests/contract/README.md and checked there for every implementation.
"""

import logging
from contextlib import nullcontext
from typing import Any

import httpx
from opentelemetry.trace import SpanKind, Tracer

from shopkit.admission import stepped_aside
from shopkit.errors import Conflict, ServiceUnavailable
from shopkit.tracing import traceparent_or

log = logging.getLogger(__name__)

SHIP_ORDER = "mutation ShipOrder($id: ID!) { shipOrder(id: $id) { id status } }"
TIMEOUT_SECONDS = 2.0
UNCONFIRMED = "Orders could not confirm the shipment right now; retry shortly."


class OrdersClient:
    def __init__(self, url: str, http: httpx.AsyncClient, tracer: Tracer | None = None) -> None:
        self._url = url
        self._http = http
        self._tracer = tracer

    async def confirm_shipment(
        self, order_id: str, *, authorization: str | None, traceparent: str | None
    ) -> None:
        """Returns once orders has marked the order shipped; CONFLICT if orders refuses (the order
        was cancelled), SERVICE_UNAVAILABLE (retryable) if it could not answer."""
        span = (
            nullcontext()
            if self._tracer is None
            else self._tracer.start_as_current_span("orders shipOrder", kind=SpanKind.CLIENT)
        )
        with span:  # a refusal raised inside it marks the span failed
            # The span's own context when traced, else the caller's as it came.
            answer = await self._ship_order(order_id, authorization, traceparent_or(traceparent))
            refusal = _conflict_message(answer)
            if refusal is not None:
                raise Conflict(refusal)
            if not _confirmed(answer):
                raise ServiceUnavailable(UNCONFIRMED, retryable=True, retryAfterSeconds=1)

    async def _ship_order(
        self, order_id: str, authorization: str | None, traceparent: str | None
    ) -> dict[str, Any] | None:
        """Orders' GraphQL answer, or None when there was none to read."""
        headers = {
            name: value
            for name, value in (("authorization", authorization), ("traceparent", traceparent))
            if value is not None
        }
        body = {"query": SHIP_ORDER, "variables": {"id": order_id}}
        try:
            async with stepped_aside():  # orders admits its own requests
                response = await self._http.post(
                    self._url, json=body, headers=headers, timeout=TIMEOUT_SECONDS
                )
            answer = response.json() if response.status_code == httpx.codes.OK else None
        except (httpx.HTTPError, ValueError) as error:
            log.warning("shipOrder for order %s: no answer from orders (%s)", order_id, error)
            return None
        if not isinstance(answer, dict):
            log.warning("shipOrder for order %s: HTTP %s from orders", order_id, response.status_code)
            return None
        return answer


def _conflict_message(answer: dict[str, Any] | None) -> str | None:
    errors = None if answer is None else answer.get("errors")
    if not isinstance(errors, list) or not errors or not isinstance(errors[0], dict):
        return None
    first = errors[0]
    extensions = first.get("extensions")
    if isinstance(extensions, dict) and extensions.get("code") == Conflict.code:
        message = first.get("message")
        return message if isinstance(message, str) else "Orders refused the shipment."
    log.warning("shipOrder: orders answered an error: %s", first)
    return None


def _confirmed(answer: dict[str, Any] | None) -> bool:
    if answer is None or answer.get("errors"):
        return False
    data = answer.get("data")
    return isinstance(data, dict) and isinstance(data.get("shipOrder"), dict)
