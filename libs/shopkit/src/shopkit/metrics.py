"""Prometheus metrics every service exposes at /metrics.

Two counters prove that a query costs a fixed amount of store work however
many entities it touches (no N+1), and keep each other honest:
- `STORE_CALLS` counts calls into a service's store layer (each method marked
  `@store_call`): a DataLoader batch is one call;
- `STORE_COMMANDS` counts the commands the store layer sends to the server.
  On MongoDB a batch is one command; on FerretDB, which cannot push `$in`
  down, it is one indexed lookup per key (see `shopkit.mongo.MongoDB.find_grouped`).
"""

import functools
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response

STORE_CALLS = Counter(
    "shopgraph_store_calls",
    "Calls into the service's store layer.",
    ["call"],
)
STORE_COMMANDS = Counter(
    "shopgraph_store_commands",
    "Commands sent to the service's store.",
    ["store", "command"],
)
STORE_CALL_SECONDS = Histogram(
    "shopgraph_store_call_seconds",
    "How long calls into the service's store layer take, waiting for a connection included.",
    ["call"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
EVENTS_HANDLED = Counter(
    "shopgraph_events_handled",
    "Events handled by this service's consumers, by outcome.",
    ["stream", "type", "outcome"],
)

Params = ParamSpec("Params")
Result = TypeVar("Result")


def store_call(method: Callable[Params, Awaitable[Result]]) -> Callable[Params, Awaitable[Result]]:
    """Counts and times every call of a store-layer method (labelled `Class.method`)."""
    counter = STORE_CALLS.labels(call=method.__qualname__)
    duration = STORE_CALL_SECONDS.labels(call=method.__qualname__)

    @functools.wraps(method)
    async def counted(*args: Params.args, **kwargs: Params.kwargs) -> Result:
        counter.inc()
        with duration.time():
            return await method(*args, **kwargs)

    return counted


def store_calls_made() -> float:
    """Total store-layer calls of this process."""
    return sum(
        sample.value
        for metric in STORE_CALLS.collect()
        for sample in metric.samples
        if sample.name.endswith("_total")
    )


async def metrics_endpoint(_: Request) -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
