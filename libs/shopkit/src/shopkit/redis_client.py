"""Redis connections: the event backbone, and the delivery service's store."""

from typing import Any

from opentelemetry.trace import SpanKind, Tracer
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from shopkit import tracing


def connect(url: str, tracer: Tracer | None = None) -> Redis:
    """A client for `url`; with a `tracer`, its commands and pipelines are traced."""
    options: dict[str, Any] = {
        "decode_responses": True,
        "socket_connect_timeout": 3,
        "health_check_interval": 10,
    }
    if tracer is None:
        return Redis.from_url(url, **options)
    client = TracedRedis.from_url(url, **options)
    assert isinstance(client, TracedRedis)
    client.tracer = tracer
    return client


def _attributes(client: Redis, operation: str) -> dict[str, str | int]:
    connection = client.connection_pool.connection_kwargs
    return {
        "db.system.name": "redis",
        "db.operation.name": operation,
        "db.namespace": str(connection.get("db", 0)),
        "server.address": str(connection.get("host", "")),
        "server.port": int(connection.get("port", 6379)),
    }


class TracedRedis(Redis):
    """A CLIENT span per command, and one per pipeline, sent inside a traced request or event."""

    tracer: Tracer

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        if not tracing.recording():
            return await super().execute_command(*args, **options)  # type: ignore[no-untyped-call]
        operation = str(args[0]).upper()
        with self.tracer.start_as_current_span(
            operation, kind=SpanKind.CLIENT, attributes=_attributes(self, operation)
        ):
            return await super().execute_command(*args, **options)  # type: ignore[no-untyped-call]

    def pipeline(self, transaction: bool = True, shard_hint: str | None = None) -> Pipeline:
        pipeline = TracedPipeline(self.connection_pool, self.response_callbacks, transaction, shard_hint)
        pipeline.tracer = self.tracer
        return pipeline


class TracedPipeline(Pipeline):
    """A pipeline (or MULTI/EXEC transaction) that is one span, naming the commands it sent."""

    tracer: Tracer

    async def execute(self, raise_on_error: bool = True) -> list[Any]:
        if not self.command_stack or not tracing.recording():
            return await super().execute(raise_on_error)
        operation = "MULTI" if self.is_transaction or self.explicit_transaction else "PIPELINE"
        attributes = _attributes(self, operation)
        attributes["db.operation.batch.size"] = len(self.command_stack)
        attributes["db.query.summary"] = " ".join(str(args[0]).upper() for args, _ in self.command_stack)
        with self.tracer.start_as_current_span(operation, kind=SpanKind.CLIENT, attributes=attributes):
            return await super().execute(raise_on_error)


async def is_ready(redis: Redis) -> bool:
    try:
        return bool(await redis.ping())
    except Exception:  # noqa: BLE001 - any failure means "not ready"
        return False
