"""create_app(): the payments subgraph as a Starlette app, with its background tasks.

The lifespan creates the indexes, then runs until shutdown:
- the outbox relay (payment events → shopgraph.events.payments),
- the consumer of shopgraph.events.orders (group "payments"),
- the maintenance loop (purge old idempotency keys, recover interrupted charges).
"""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request

from payments.config import SERVICE, Settings
from payments.context import Context, build_context
from payments.events import ORDERS_STREAM, OrderEventHandler
from payments.processor import CardProcessor
from payments.rules import Payments
from payments.schema import build_schema
from payments.store import PaymentStore
from shopkit import redis_client, tasks, tracing
from shopkit.auth import TokenVerifier
from shopkit.events.envelope import stream_for
from shopkit.events.outbox import MongoOutbox, OutboxRelay
from shopkit.events.streams import StreamConsumer, default_consumer_name
from shopkit.http import create_app as create_subgraph_app
from shopkit.mongo import MongoDB

log = logging.getLogger(__name__)


def create_app(
    settings: Settings | None = None,
    *,
    verifier: TokenVerifier | None = None,
    processor: CardProcessor | None = None,
) -> Starlette:
    """The app; tests pass settings, a verifier holding their keys, and a processor to inspect."""
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
        MongoOutbox(mongodb, "payments"),
        events_redis,
        stream_for(SERVICE),
        sweep_interval=settings.outbox_sweep_seconds,
    )
    store = PaymentStore(mongodb, outbox_written=relay.notify)
    payments = Payments(store, processor or CardProcessor(), settings)
    consumer = StreamConsumer(
        events_redis,
        group=SERVICE,
        consumer=default_consumer_name(SERVICE),
        streams=[ORDERS_STREAM],
        handler=OrderEventHandler(store, payments),
        tracer=tracer,
    )

    workers = tasks.Supervisor(
        {
            "payments-outbox-relay": relay.run,
            "payments-orders-consumer": consumer.run,
            "payments-maintenance": lambda: maintain(
                payments, settings.maintenance_interval_seconds, settings.idempotency_purge_interval_seconds
            ),
        }
    )

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await store.open()
        try:
            async with workers.running():
                yield
        finally:
            await events_redis.aclose()
            await store.close()

    async def context(request: Request) -> Context:
        return await build_context(request, verifier, store, payments)

    return create_subgraph_app(
        schema=build_schema(settings.query_limits),
        concurrency=settings.graphql_concurrency,
        context_factory=context,
        lifespan=lifespan,
        # Ready means the store answers; events wait in the outbox while Redis is away.
        readiness={"mongodb": mongodb.is_ready, **workers.readiness},
        tracer=tracer,
    )


async def maintain(payments: Payments, interval: float, purge_interval: float) -> None:
    """Periodic upkeep: recovery every `interval` seconds, the purge of expired
    idempotency keys every `purge_interval`; a failed round is logged and retried next round."""
    loop = asyncio.get_running_loop()
    next_purge = loop.time()
    while True:
        await asyncio.sleep(interval)
        try:
            if loop.time() >= next_purge:
                purged = await payments.purge_idempotency_keys()
                next_purge = loop.time() + purge_interval
                if purged:
                    log.info("purged %d expired idempotency keys", purged)
            await payments.recover_interrupted()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("payments maintenance round failed")
