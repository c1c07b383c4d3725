"""Prometheus metrics every service exposes at /metrics.

`STORE_COMMANDS` counts the commands a service sends to its store. It is how
tests and benchmarks prove that a query costs a fixed number of round trips
however many entities it touches (no N+1).
"""

from prometheus_client import CONTENT_TYPE_LATEST, Counter, generate_latest
from starlette.requests import Request
from starlette.responses import Response

STORE_COMMANDS = Counter(
    "shopgraph_store_commands",
    "Commands sent to the service's store.",
    ["store", "command"],
)
EVENTS_HANDLED = Counter(
    "shopgraph_events_handled",
    "Events handled by this service's consumers, by outcome.",
    ["stream", "type", "outcome"],
)


async def metrics_endpoint(_: Request) -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
