"""The orders service as an ASGI app: stores, catalog seed, outbox relay, event consumer."""

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request

from orders.catalog import Catalog
from orders.config import SERVICE, Settings
from orders.context import Context, build_context
from orders.events import CONSUMED_STREAMS, OrderEventHandler
from orders.schema import build_schema
from orders.seed import seed_catalog
from orders.store import OrderStore
from shopkit import http, redis_client, tasks, tracing
from shopkit.auth import TokenVerifier
from shopkit.events.envelope import stream_for
from shopkit.events.outbox import MongoOutbox, OutboxRelay, nobody_notified
from shopkit.events.streams import StreamConsumer, default_consumer_name
from shopkit.mongo import MongoDB


def create_app(
    settings: Settings | None = None,
    *,
    verifier: TokenVerifier | None = None,
    background_workers: bool = True,
) -> Starlette:
    """The app; `background_workers=False` leaves out the outbox relay and the event
    consumer (tests that count store commands need a quiet store)."""
    settings = settings or Settings()
    tracer = tracing.tracer_for(SERVICE, settings.tracing_endpoint)
    verifier = verifier or TokenVerifier(settings.jwks_url)
    mongodb = MongoDB(
        settings.mongodb_uri,
        settings.mongodb_database,
        service=SERVICE,
        write_connections=settings.mongodb_write_connections,
        ferretdb_postgresql_url=settings.ferretdb_postgresql_url,
        tracer=tracer,
    )
    events_redis = redis_client.connect(settings.events_redis_url, tracer)
    relay = OutboxRelay(
        MongoOutbox(mongodb, "orders"),
        events_redis,
        stream_for(SERVICE),
        sweep_interval=settings.outbox_sweep_seconds,
    )
    store = OrderStore(mongodb, outbox_written=relay.notify if background_workers else nobody_notified)
    consumer = StreamConsumer(
        events_redis,
        group=SERVICE,
        consumer=default_consumer_name(SERVICE),
        streams=CONSUMED_STREAMS,
        handler=OrderEventHandler(store),
        tracer=tracer,
    )

    catalog = Catalog()
    workers = tasks.Supervisor(
        {"orders-outbox-relay": relay.run, "orders-event-consumer": consumer.run}
        if background_workers
        else {}
    )

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await store.open()
        await seed_catalog(store)
        await catalog.load(store)
        try:
            async with workers.running():
                yield
        finally:
            await events_redis.aclose()
            await store.close()

    async def context(request: Request) -> Context:
        return await build_context(request, verifier, catalog, store)

    # Only the store gates readiness: with the event Redis down, orders are
    # still placed (their events wait in the outbox).
    return http.create_app(
        schema=build_schema(settings.query_limits),
        concurrency=settings.graphql_concurrency,
        context_factory=context,
        lifespan=lifespan,
        readiness={"mongodb": mongodb.is_ready, **workers.readiness},
        tracer=tracer,
    )
