"""Traces: an OpenTelemetry span per HTTP request, per event handled and per store call.

Off unless a service's settings name an OTLP endpoint (TRACING_ENDPOINT): then
`tracer_for` returns the service's tracer, and the service hands it to what
records spans (the request middleware here, `StreamConsumer`, `MongoDB`,
`redis_client.connect`). Without one, nothing is recorded and nothing is
installed: no middleware, no listener.

A request's span continues the caller's W3C `traceparent` (the router's);
every event written while it is current carries its context
(`traceparent_or`), and the consumer that handles the event records its span as
a child of it (`consuming`), so one checkout is one trace across the event hops.
Store spans are only recorded inside one of those (a consumer's idle polling is
no one's work). GraphQL resolvers get no spans of their own: one per field is
what makes tracing Strawberry slow.
"""

import os
import socket
from collections.abc import Collection, Iterator
from contextlib import contextmanager

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span, SpanKind, StatusCode, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Spans leave the process in batches at least this often, so a trace is complete seconds after the work.
EXPORT_DELAY_MS = 1000
_W3C = TraceContextTextMapPropagator()
_TRACE_HEADERS = (b"traceparent", b"tracestate")


def tracer_for(service: str, endpoint: str | None) -> Tracer | None:
    """The service's tracer, exporting to the OTLP/HTTP `endpoint` (its base URL); None without one."""
    if endpoint is None:
        return None
    resource = Resource.create(
        {"service.name": service, "service.instance.id": f"{socket.gethostname()}-{os.getpid()}"}
    )
    provider = TracerProvider(resource=resource)
    exporter = OTLPSpanExporter(endpoint=f"{endpoint.rstrip('/')}/v1/traces")
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=EXPORT_DELAY_MS))
    return provider.get_tracer("shopkit")


def context_from(traceparent: str | None, tracestate: str | None = None) -> Context:
    """The trace context a W3C `traceparent` names (an empty one, the start of a trace, if it names none)."""
    carrier = {
        name: value for name, value in (("traceparent", traceparent), ("tracestate", tracestate)) if value
    }
    return _W3C.extract(carrier)


def traceparent_or(fallback: str | None) -> str | None:
    """The W3C `traceparent` of the current span, for the events this work causes; `fallback` outside one."""
    if not trace.get_current_span().get_span_context().is_valid:
        return fallback
    carrier: dict[str, str] = {}
    _W3C.inject(carrier)
    return carrier.get("traceparent", fallback)


def recording() -> bool:
    """Whether a span is being recorded here: store calls are traced only inside one."""
    return trace.get_current_span().is_recording()


@contextmanager
def consuming(
    tracer: Tracer | None, *, event_type: str, event_id: str, traceparent: str | None, stream: str, group: str
) -> Iterator[None]:
    """The span of one attempt at handling an event: a child of the context the event was written in."""
    if tracer is None:
        yield
        return
    attributes = {
        "messaging.system": "redis",
        "messaging.operation.type": "process",
        "messaging.destination.name": stream,
        "messaging.consumer.group.name": group,
        "messaging.message.id": event_id,
        "shopgraph.event.type": event_type,
    }
    with tracer.start_as_current_span(
        f"handle {event_type}",
        context=context_from(traceparent),
        kind=SpanKind.CONSUMER,
        attributes=attributes,
    ):
        yield


def record_failure(error: BaseException) -> None:
    """Marks the current span failed with `error` (work that failed without raising out of its span)."""
    span = trace.get_current_span()
    if span.is_recording():
        span.record_exception(error)
        span.set_status(StatusCode.ERROR, str(error))


class RequestSpans:
    """ASGI middleware: a SERVER span around each HTTP request, continuing the caller's trace.

    `untraced_paths` (health checks, metrics scrapes) get no span: they are the
    platform's polling, not anyone's request.
    """

    def __init__(self, app: ASGIApp, *, tracer: Tracer, untraced_paths: Collection[str]) -> None:
        self._app = app
        self._tracer = tracer
        self._untraced_paths = frozenset(untraced_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self._untraced_paths:
            await self._app(scope, receive, send)
            return
        headers = dict(header for header in scope["headers"] if header[0] in _TRACE_HEADERS)
        parent = context_from(
            *(headers[name].decode("latin-1") if name in headers else None for name in _TRACE_HEADERS)
        )
        method, path = scope["method"], scope["path"]
        attributes = {"http.request.method": method, "url.path": path, "url.scheme": scope["scheme"]}
        with self._tracer.start_as_current_span(
            f"{method} {path}", context=parent, kind=SpanKind.SERVER, attributes=attributes
        ) as span:
            await self._app(scope, receive, _recording_status(span, send))


def _recording_status(span: Span, send: Send) -> Send:
    async def send_and_record(message: Message) -> None:
        if message["type"] == "http.response.start":
            status = int(message["status"])
            span.set_attribute("http.response.status_code", status)
            if status >= 500:
                span.set_status(StatusCode.ERROR)
        await send(message)

    return send_and_record
