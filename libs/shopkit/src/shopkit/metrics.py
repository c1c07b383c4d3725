"""Prometheus metrics every service exposes at /metrics.

Two counters prove that a query costs a fixed amount of store work however
many entities it touches (no N+1), and keep each other honest:
- `STORE_CALLS` counts calls into a service's store layer (each method marked
  `@store_call`): a DataLoader batch is one call;
- `STORE_COMMANDS` counts the commands the store layer sends to the server.
  On MongoDB a batch is one command; on FerretDB, which cannot push `$in`
  down, it is one indexed lookup per key (see `shopkit.mongo.MongoDB.find_grouped`).

What lives in a store rather than in this process (consumer lag, dead letters,
outbox backlog, readiness) is read when /metrics is scraped, by the probes
registered in `PROBES` (see `Probes`), so a value is never older than the scrape.
"""

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
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
EVENTS_PUBLISHED = Counter(
    "shopgraph_events_published",
    "Events this service's outbox relay published to its stream.",
    ["stream"],
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


log = logging.getLogger(__name__)

# The gauges probes report, with their help text; a probe reports no other name.
READ_AT_SCRAPE = {
    "shopgraph_consumer_lag": "Entries of the stream not yet delivered to the consumer group "
    "(Redis XINFO GROUPS lag), reported by the stream's producer.",
    "shopgraph_consumer_pending": "Entries delivered to the consumer group but not acknowledged yet "
    "(XINFO GROUPS pending), reported by the stream's producer.",
    "shopgraph_dead_letters": "Entries in the dead-letter stream <stream>.dead.<group> "
    "(group outbox: entries the relay could not read).",
    "shopgraph_outbox_backlog": "Outbox places whose events wait to be published (documents on MongoDB, "
    "events on delivery's list), counted up to OUTBOX_BACKLOG_CAP.",
    "shopgraph_ready": "1 while every readiness check passes (/health/ready answers 200), else 0.",
    "shopgraph_readiness_check": "Each readiness check of /health/ready: 1 passing, 0 failing.",
}
# A probe that has not answered by then (a store that hangs) is left out of that scrape.
PROBE_TIMEOUT_S = 1.0


@dataclass(frozen=True)
class Reading:
    """One sample of a gauge in READ_AT_SCRAPE."""

    name: str
    labels: Mapping[str, str]
    value: float


Probe = Callable[[], Awaitable[Iterable[Reading]]]


class Probes:
    """The probes /metrics awaits on each scrape, each under a key.

    Registering under a key that is taken replaces that probe (an app built
    again in the same process, a relay started again); unregistering removes it
    only if it is still the one registered.
    """

    def __init__(self) -> None:
        self._probes: dict[str, Probe] = {}

    def register(self, key: str, probe: Probe) -> Callable[[], None]:
        """Adds the probe; returns what removes it."""
        self._probes[key] = probe

        def unregister() -> None:
            if self._probes.get(key) is probe:
                del self._probes[key]

        return unregister

    async def read(self) -> list[Reading]:
        """Every probe's readings, read concurrently; a probe that fails or hangs gives none."""
        keys = list(self._probes)
        results = await asyncio.gather(
            *(asyncio.wait_for(self._read_one(self._probes[key]), PROBE_TIMEOUT_S) for key in keys),
            return_exceptions=True,
        )
        readings: list[Reading] = []
        for key, result in zip(keys, results, strict=True):
            if isinstance(result, BaseException):
                log.warning("metrics probe %s failed: %r", key, result)
            else:
                readings.extend(result)
        return readings

    @staticmethod
    async def _read_one(probe: Probe) -> list[Reading]:
        readings = list(await probe())
        unknown = {reading.name for reading in readings} - READ_AT_SCRAPE.keys()
        if unknown:
            raise ValueError(f"not in READ_AT_SCRAPE: {sorted(unknown)}")
        return readings


PROBES = Probes()


class _Snapshot(Collector):
    """Readings as gauge families, for one exposition."""

    def __init__(self, readings: list[Reading]) -> None:
        self._readings = readings

    def collect(self) -> Iterator[Metric]:
        families: dict[str, GaugeMetricFamily] = {}
        for reading in self._readings:
            family = families.get(reading.name)
            if family is None:
                labels = sorted(reading.labels)
                family = GaugeMetricFamily(reading.name, READ_AT_SCRAPE[reading.name], labels=labels)
                families[reading.name] = family
            family.add_metric([reading.labels[label] for label in sorted(reading.labels)], reading.value)
        yield from families.values()


def exposition(readings: list[Reading]) -> bytes:
    """The readings in Prometheus' text format."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(readings))
    return generate_latest(registry)


async def metrics_endpoint(_: Request) -> Response:
    readings = await PROBES.read()
    # The process's own metrics, then the probes' (no name is in both).
    return Response(generate_latest() + exposition(readings), media_type=CONTENT_TYPE_LATEST)
