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

from prometheus_client import CONTENT_TYPE_LATEST, Counter, generate_latest
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
EVENTS_HANDLED = Counter(
    "shopgraph_events_handled",
    "Events handled by this service's consumers, by outcome.",
    ["stream", "type", "outcome"],
)

Params = ParamSpec("Params")
Result = TypeVar("Result")


def store_call(method: Callable[Params, Awaitable[Result]]) -> Callable[Params, Awaitable[Result]]:
    """Counts every call of a store-layer method in `STORE_CALLS` (labelled `Class.method`)."""
    counter = STORE_CALLS.labels(call=method.__qualname__)

    @functools.wraps(method)
    async def counted(*args: Params.args, **kwargs: Params.kwargs) -> Result:
        counter.inc()
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
