"""create_app(): the delivery subgraph with its Redis store, outbox relay and event consumer."""

import contextlib
from collections.abc import AsyncIterator

import httpx
from starlette.applications import Starlette
from starlette.requests import Request

from delivery.config import Settings
from delivery.context import Context, build_context
from delivery.events import CONSUMED_STREAMS, SERVICE, STREAM, EventHandlers
from delivery.orders import OrdersClient
from delivery.schema import build_schema
from delivery.store import DeliveryOutbox, DeliveryStore
from shopkit import redis_client, tasks, tracing
from shopkit.auth import TokenVerifier
from shopkit.events.outbox import OutboxRelay
from shopkit.events.streams import StreamConsumer, default_consumer_name
from shopkit.http import create_app as create_subgraph_app


def create_app(
    settings: Settings | None = None,
    *,
    verifier: TokenVerifier | None = None,
    orders_transport: httpx.AsyncBaseTransport | None = None,
) -> Starlette:
    """The ASGI app; tests pass their own settings, a verifier holding their signing key and
    the transport their orders answers come through."""
    settings = settings or Settings()
    tracer = tracing.tracer_for(SERVICE, settings.tracing_endpoint)
    verifier = verifier or TokenVerifier(settings.jwks_url)
    store_redis = redis_client.connect(settings.redis_url, tracer)
    events_redis = redis_client.connect(settings.events_redis_url, tracer)
    relay = OutboxRelay(
        DeliveryOutbox(store_redis), events_redis, STREAM, sweep_interval=settings.outbox_sweep_seconds
    )
    store = DeliveryStore(store_redis, outbox_written=relay.notify)
    orders_http = httpx.AsyncClient(transport=orders_transport)
    orders = OrdersClient(settings.orders_url, orders_http, tracer)
    consumer = StreamConsumer(
        events_redis,
        group=SERVICE,
        consumer=default_consumer_name(SERVICE),
        streams=CONSUMED_STREAMS,
        handler=EventHandlers(store).handle,
        tracer=tracer,
    )
    workers = tasks.Supervisor({"delivery-outbox-relay": relay.run, "delivery-consumer": consumer.run})

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        try:
            async with workers.running():
                yield
        finally:
            await store_redis.aclose()
            await events_redis.aclose()
            await orders_http.aclose()

    async def context(request: Request) -> Context:
        return await build_context(request, verifier, store, orders)

    async def store_ready() -> bool:
        return await redis_client.is_ready(store_redis)

    async def events_ready() -> bool:
        return await redis_client.is_ready(events_redis)

    return create_subgraph_app(
        schema=build_schema(settings.query_limits),
        concurrency=settings.graphql_concurrency,
        context_factory=context,
        lifespan=lifespan,
        readiness={"redis": store_ready, "events": events_ready, **workers.readiness},
        tracer=tracer,
    )
