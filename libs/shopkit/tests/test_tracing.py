"""shopkit.tracing: request, consumer and store spans, linked by the W3C trace context."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode, Tracer
from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from shopkit import redis_client, tracing
from shopkit.events.envelope import Event
from shopkit.events.streams import RetryPolicy, StreamConsumer, publish
from shopkit.mongo import MongoDB
from shopkit.testing import running

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
CALLER_SPAN_ID = "b7ad6b7169203331"
TRACEPARENT = f"00-{TRACE_ID}-{CALLER_SPAN_ID}-01"
FAST = RetryPolicy(max_attempts=3, first_backoff=0.05, max_backoff=0.2, claim_idle=0.3)


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def tracer(exporter: InMemorySpanExporter) -> Iterator[Tracer]:
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider.get_tracer("test")
    provider.shutdown()


def hex_trace_id(span: ReadableSpan) -> str:
    return f"{span.context.trace_id:032x}"


def hex_span_id(span: ReadableSpan) -> str:
    return f"{span.context.span_id:016x}"


def parent_span_id(span: ReadableSpan) -> str | None:
    return None if span.parent is None else f"{span.parent.span_id:016x}"


def named(exporter: InMemorySpanExporter, name: str) -> list[ReadableSpan]:
    return [span for span in exporter.get_finished_spans() if span.name == name]


def test_no_endpoint_no_tracer() -> None:
    assert tracing.tracer_for("orders", None) is None


def test_traceparent_outside_a_span_is_the_fallback() -> None:
    assert tracing.traceparent_or(TRACEPARENT) == TRACEPARENT
    assert tracing.traceparent_or(None) is None


def test_traceparent_inside_a_span_is_that_span(tracer: Tracer) -> None:
    with tracer.start_as_current_span("work", context=tracing.context_from(TRACEPARENT)) as span:
        carried = tracing.traceparent_or(TRACEPARENT)
    span_id = f"{span.get_span_context().span_id:016x}"
    assert carried == f"00-{TRACE_ID}-{span_id}-01"


# ---- requests ------------------------------------------------------------------


def traced_app(tracer: Tracer, seen: list[str | None]) -> Starlette:
    async def work(request: Request) -> JSONResponse:
        seen.append(tracing.traceparent_or(request.headers.get("traceparent")))
        return JSONResponse({"ok": True})

    async def broken(_: Request) -> PlainTextResponse:
        return PlainTextResponse("no", status_code=503)

    async def health(_: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    routes = [Route("/graphql", work, methods=["POST"]), Route("/broken", broken), Route("/health", health)]
    app = Starlette(routes=routes)
    return tracing.RequestSpans(app, tracer=tracer, untraced_paths={"/health"})  # type: ignore[return-value]


async def test_a_request_is_a_server_span_continuing_the_callers_trace(
    tracer: Tracer, exporter: InMemorySpanExporter
) -> None:
    seen: list[str | None] = []
    transport = httpx.ASGITransport(app=traced_app(tracer, seen))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.post("/graphql", headers={"traceparent": TRACEPARENT}, json={})
    assert response.status_code == 200

    [span] = exporter.get_finished_spans()
    assert (span.name, span.kind) == ("POST /graphql", SpanKind.SERVER)
    assert (hex_trace_id(span), parent_span_id(span)) == (TRACE_ID, CALLER_SPAN_ID)
    assert span.attributes is not None
    assert span.attributes["http.response.status_code"] == 200
    # What the request's events carry is the request's own span, not the caller's.
    assert seen == [f"00-{TRACE_ID}-{hex_span_id(span)}-01"]


async def test_a_request_without_a_caller_starts_a_trace_and_5xx_is_an_error(
    tracer: Tracer, exporter: InMemorySpanExporter
) -> None:
    transport = httpx.ASGITransport(app=traced_app(tracer, []))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        assert (await client.get("/broken")).status_code == 503
    [span] = exporter.get_finished_spans()
    assert span.parent is None
    assert span.status.status_code is StatusCode.ERROR


async def test_health_checks_are_not_traced(tracer: Tracer, exporter: InMemorySpanExporter) -> None:
    transport = httpx.ASGITransport(app=traced_app(tracer, []))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        assert (await client.get("/health", headers={"traceparent": TRACEPARENT})).status_code == 200
    assert exporter.get_finished_spans() == ()


# ---- Redis ---------------------------------------------------------------------


@pytest.fixture
async def traced_redis(redis_url: str, tracer: Tracer) -> AsyncIterator[Redis]:
    client = redis_client.connect(redis_url, tracer)
    yield client
    await client.aclose()


async def test_redis_commands_and_pipelines_are_spans_inside_traced_work(
    traced_redis: Redis, tracer: Tracer, exporter: InMemorySpanExporter
) -> None:
    key = f"test:{uuid.uuid4().hex}"
    await traced_redis.set(key, "untraced")  # no work is being traced: no span
    with tracer.start_as_current_span("work") as work:
        await traced_redis.get(key)
        async with traced_redis.pipeline(transaction=True) as pipe:
            pipe.set(key, "1")
            pipe.incr(key)
            assert await pipe.execute() == [True, 2]

    spans = {span.name: span for span in exporter.get_finished_spans()}
    assert set(spans) == {"work", "GET", "MULTI"}
    work_id = f"{work.get_span_context().span_id:016x}"
    for name in ("GET", "MULTI"):
        assert spans[name].kind is SpanKind.CLIENT
        assert parent_span_id(spans[name]) == work_id
    attributes = spans["MULTI"].attributes
    assert attributes is not None
    assert (attributes["db.system.name"], attributes["db.query.summary"]) == ("redis", "SET INCRBY")


# ---- events --------------------------------------------------------------------


async def finished(exporter: InMemorySpanExporter, name: str, count: int = 1) -> list[ReadableSpan]:
    for _ in range(200):
        spans = named(exporter, name)
        if len(spans) >= count:
            return spans
        await asyncio.sleep(0.05)
    raise AssertionError(f"no {count} finished spans named {name!r}: {exporter.get_finished_spans()}")


async def test_a_consumer_continues_the_trace_the_event_was_written_in(
    traced_redis: Redis, tracer: Tracer, exporter: InMemorySpanExporter
) -> None:
    stream, key = f"test.{uuid.uuid4().hex}", f"test:{uuid.uuid4().hex}"
    carried: list[str | None] = []

    async def handler(event: Event) -> None:
        await traced_redis.set(key, event.id)
        carried.append(tracing.traceparent_or(event.traceparent))

    consumer = StreamConsumer(
        traced_redis, group="g", consumer="c", streams=[stream], handler=handler, policy=FAST, tracer=tracer
    )
    event = Event(type="order.placed", data={"orderId": "o1"}, producer="test", traceparent=TRACEPARENT)
    async with running(consumer):
        await publish(traced_redis, stream, event)
        [handled] = await finished(exporter, "handle order.placed")

    assert handled.kind is SpanKind.CONSUMER
    assert (hex_trace_id(handled), parent_span_id(handled)) == (TRACE_ID, CALLER_SPAN_ID)
    assert handled.attributes is not None
    assert (handled.attributes["messaging.destination.name"], handled.attributes["messaging.message.id"]) == (
        stream,
        event.id,
    )
    # The handler's store call and the acknowledgement are its children; the polling is nobody's.
    children = [
        span.name for span in exporter.get_finished_spans() if parent_span_id(span) == hex_span_id(handled)
    ]
    assert sorted(children) == ["SET", "XACK"]
    assert named(exporter, "XREADGROUP") == []
    # Events the handler writes carry the handling's own span.
    assert carried == [f"00-{TRACE_ID}-{hex_span_id(handled)}-01"]


async def test_a_failed_attempt_is_an_error_span_and_the_retry_another_child(
    traced_redis: Redis, tracer: Tracer, exporter: InMemorySpanExporter
) -> None:
    stream = f"test.{uuid.uuid4().hex}"
    attempts: list[str] = []

    async def handler(event: Event) -> None:
        attempts.append(event.id)
        if len(attempts) == 1:
            raise RuntimeError("not yet")

    consumer = StreamConsumer(
        traced_redis, group="g", consumer="c", streams=[stream], handler=handler, policy=FAST, tracer=tracer
    )
    event = Event(type="payment.captured", data={"orderId": "o1"}, producer="test", traceparent=TRACEPARENT)
    async with running(consumer):
        await publish(traced_redis, stream, event)
        spans = await finished(exporter, "handle payment.captured", count=2)

    assert [span.status.status_code for span in spans] == [StatusCode.ERROR, StatusCode.UNSET]
    assert {parent_span_id(span) for span in spans} == {CALLER_SPAN_ID}


# ---- MongoDB -------------------------------------------------------------------


async def test_mongodb_commands_are_spans_inside_traced_work(
    mongodb_uri: str,
    database_name: str,
    ferretdb_postgresql_url: str | None,
    tracer: Tracer,
    exporter: InMemorySpanExporter,
) -> None:
    mongodb = MongoDB(
        mongodb_uri,
        database_name,
        service="test",
        ferretdb_postgresql_url=ferretdb_postgresql_url,
        tracer=tracer,
    )
    try:
        await mongodb.open({"things": ("_id",)})
        await mongodb.writes.things.insert_one({"_id": "t1"})  # no work is being traced: no span
        with tracer.start_as_current_span("work") as work:
            assert await mongodb.reads.things.find_one({"_id": "t1"}) == {"_id": "t1"}
            await mongodb.writes_for("t1").things.update_one({"_id": "t1"}, {"$set": {"n": 1}})
        await mongodb.writes.client.drop_database(database_name)
    finally:
        await mongodb.close()

    work_id = f"{work.get_span_context().span_id:016x}"
    children = [span for span in exporter.get_finished_spans() if span.name != "work"]
    assert [span.name for span in children] == ["find things", "update things"]
    for span in children:
        assert (span.kind, parent_span_id(span)) == (SpanKind.CLIENT, work_id)
        assert span.attributes is not None
        assert (span.attributes["db.system.name"], span.attributes["db.namespace"]) == (
            "mongodb",
            database_name,
        )
