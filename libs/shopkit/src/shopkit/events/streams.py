"""Redis Streams: publishing events and consuming them in a consumer group.

Delivery guarantees, in order of how they are achieved:
- a message is acknowledged (XACK) only after its handler returned;
- a message whose handler raised stays pending and is retried after an
  exponential backoff, by this consumer (XCLAIM of its own entry);
- a message pending on a consumer that died (SIGKILL, OOM, host gone) is
  claimed by a live consumer of the same group once it has been idle for
  `claim_idle` seconds;
- after `max_attempts` deliveries a message goes to the group's dead-letter
  stream with the last error and is acknowledged, so one poison message cannot
  block the stream. The default policy keeps retrying for about seven minutes
  (20 attempts, the backoff doubling from 0.5 s to 30 s): an event that cannot
  be applied *yet* (it overtook the one it depends on, or waits for a charge
  to settle) waits for it, and only what no retry can fix is set aside.
Handlers must therefore be idempotent: the same event may be handled twice
(after a crash between effect and XACK, or an outbox relay republish).
"""

import asyncio
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, cast

from opentelemetry.trace import Tracer
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import RedisError, ResponseError

from shopkit import tracing
from shopkit.events.envelope import Event
from shopkit.metrics import EVENTS_HANDLED

log = logging.getLogger(__name__)

Handler = Callable[[Event], Awaitable[None]]
Fields = dict[str, str]
Entry = tuple[str, Fields | None]
EVENT_FIELD = "event"


async def publish(redis: Redis, stream: str, event: Event) -> str:
    return str(await redis.xadd(stream, {EVENT_FIELD: event.to_json()}))


def add_to(pipeline: Pipeline, stream: str, event: Event) -> None:
    """Queues the publishing of `event` on a pipeline (the same entry `publish` writes)."""
    pipeline.xadd(stream, {EVENT_FIELD: event.to_json()})


async def read_events(redis: Redis, stream: str) -> list[Event]:
    """Every event on a stream, oldest first (for tests and tooling, not consumers)."""
    entries = cast(list[tuple[str, Fields]], await redis.xrange(stream))
    return [Event.from_json(fields[EVENT_FIELD]) for _, fields in entries]


def raise_if_cancelled() -> None:
    """Honours a cancellation that redis-py swallowed.

    redis-py (8.1) can return normally from a command although the task was
    cancelled meanwhile; a loop that only awaits Redis would then never stop.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def dead_letter_stream(stream: str, group: str) -> str:
    return f"{stream}.dead.{group}"


def default_consumer_name(service: str) -> str:
    return f"{service}-{socket.gethostname()}-{os.getpid()}"


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 20
    first_backoff: float = 0.5
    max_backoff: float = 30.0
    # A message pending this long on another consumer means that consumer died.
    claim_idle: float = 15.0

    def backoff(self, attempts: int) -> float:
        return float(min(self.first_backoff * 2 ** max(attempts - 1, 0), self.max_backoff))


def order_of(event: Event) -> str:
    """The order an event is about: every event of the shop names one (events/schemas/)."""
    return str(event.data.get("orderId", event.id))


class StreamConsumer:
    """Feeds one consumer group's share of some streams to a handler.

    Events are handled concurrently by lane (`lane(event)`, by default the
    order the event is about), one at a time per lane and each stream's in
    stream order, so a slow store delays one order's events rather than
    everyone's. Reading does not wait for handling: the next read goes out as
    soon as fewer than `batch` events are in hand, so an event that arrives
    while others are being handled starts at once instead of queueing behind
    the slowest of them.

    With a `tracer`, each attempt at an event is a span continuing the trace of
    the event's `traceparent` (`shopkit.tracing.consuming`).
    """

    def __init__(
        self,
        redis: Redis,
        *,
        group: str,
        consumer: str,
        streams: list[str],
        handler: Handler,
        policy: RetryPolicy | None = None,
        batch: int = 32,
        block_ms: int = 500,
        lane: Callable[[Event], str] = order_of,
        tracer: Tracer | None = None,
    ) -> None:
        self._redis = redis
        self._group = group
        self._consumer = consumer
        self._streams = streams
        self._handler = handler
        self._policy = policy or RetryPolicy()
        self._batch = batch
        self._block_ms = block_ms
        self._lane = lane
        self._tracer = tracer
        # The events being handled, by (stream, entry id), and the last one taken of each lane.
        self._in_hand: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._lane_last: dict[str, asyncio.Task[None]] = {}
        self._room = asyncio.Event()

    async def run(self) -> None:
        """Consumes until cancelled; survives Redis outages by retrying."""
        loop = asyncio.get_running_loop()
        try:
            while True:
                try:
                    await self._ensure_groups()
                    next_retry = 0.0
                    while True:
                        # Nothing pending can be due before its first backoff: no need to ask sooner.
                        if loop.time() >= next_retry:
                            await self._retry_pending()
                            next_retry = loop.time() + self._policy.first_backoff
                        await self._read_new()
                        raise_if_cancelled()
                except asyncio.CancelledError:
                    raise
                except (RedisError, OSError) as error:
                    log.warning("consumer %s: redis unavailable (%s); retrying in 1s", self._group, error)
                    await asyncio.sleep(1.0)
        finally:
            await self._drop_in_hand()

    async def _ensure_groups(self) -> None:
        for stream in self._streams:
            try:
                await self._redis.xgroup_create(stream, self._group, id="0", mkstream=True)
            except ResponseError as error:
                if "BUSYGROUP" not in str(error):
                    raise

    async def _read_new(self) -> None:
        while len(self._in_hand) >= self._batch:
            self._room.clear()
            await self._room.wait()
        reply = await self._redis.xreadgroup(
            self._group,
            self._consumer,
            {stream: ">" for stream in self._streams},
            count=self._batch - len(self._in_hand),
            block=self._block_ms,
        )
        replies = cast(list[tuple[str, list[Entry]]] | None, reply)
        for stream, entries in replies or []:
            for entry_id, fields in entries:
                event = await self._decode(stream, entry_id, fields or {}, attempts=1)
                if event is not None:
                    self._take(stream, entry_id, event, attempts=1)

    def _take(self, stream: str, entry_id: str, event: Event, attempts: int) -> None:
        """Starts handling the event once the events taken before it in its lane, from any of the
        streams, are done: one order's events never run at once."""
        lane = self._lane(event)
        entry = (stream, entry_id)
        handling = asyncio.create_task(
            self._handle_after(self._lane_last.get(lane), stream, entry_id, event, attempts)
        )
        self._lane_last[lane] = handling
        self._in_hand[entry] = handling

        def done(_: asyncio.Task[None]) -> None:
            del self._in_hand[entry]
            if self._lane_last.get(lane) is handling:
                del self._lane_last[lane]
            self._room.set()

        handling.add_done_callback(done)

    async def _handle_after(
        self, ahead: asyncio.Task[None] | None, stream: str, entry_id: str, event: Event, attempts: int
    ) -> None:
        if ahead is not None:
            await asyncio.wait([ahead])
        try:
            await self._handle(stream, entry_id, event, attempts)
        except (RedisError, OSError) as error:
            # The handler's effect is done, its acknowledgement is not: it stays pending and is
            # delivered again, which an idempotent handler shrugs off.
            log.warning("consumer %s: could not acknowledge %s (%s)", self._group, entry_id, error)

    async def _drop_in_hand(self) -> None:
        handling = list(self._in_hand.values())
        for task in handling:
            task.cancel()
        await asyncio.gather(*handling, return_exceptions=True)

    async def _retry_pending(self) -> None:
        min_idle_ms = int(self._policy.first_backoff * 1000)
        for stream in self._streams:
            pending: list[dict[str, Any]] = await self._redis.xpending_range(
                stream, self._group, min="-", max="+", count=self._batch, idle=min_idle_ms
            )
            for entry in pending:
                if len(self._in_hand) >= self._batch:
                    return  # no room: the rest are retried on a later pass
                await self._retry_one(stream, entry)

    async def _retry_one(self, stream: str, entry: dict[str, Any]) -> None:
        if (stream, entry["message_id"]) in self._in_hand:
            return  # still being handled (or waiting for its lane): pending, but not lost
        attempts = int(entry["times_delivered"])
        mine = entry["consumer"] == self._consumer
        wait = (
            self._policy.backoff(attempts)
            if mine
            else max(self._policy.claim_idle, self._policy.backoff(attempts))
        )
        if entry["time_since_delivered"] < wait * 1000:
            return
        claimed = await self._redis.xclaim(
            stream,
            self._group,
            self._consumer,
            min_idle_time=int(wait * 1000),
            message_ids=[entry["message_id"]],
        )
        for entry_id, fields in cast(list[Entry], claimed):
            if fields is None:
                continue  # the entry was trimmed from the stream meanwhile
            if attempts >= self._policy.max_attempts:
                await self._dead_letter(stream, entry_id, fields, attempts, reason="too many failed attempts")
            else:
                await self._deliver(stream, entry_id, fields, attempts=attempts + 1)

    async def _deliver(self, stream: str, entry_id: str, fields: Fields, attempts: int) -> None:
        event = await self._decode(stream, entry_id, fields, attempts)
        if event is not None:
            self._take(stream, entry_id, event, attempts)

    async def _decode(self, stream: str, entry_id: str, fields: Fields, attempts: int) -> Event | None:
        """The entry's event; None when it is not one (it is dead-lettered at once)."""
        try:
            return Event.from_json(fields[EVENT_FIELD])
        except (KeyError, ValueError, TypeError) as error:
            await self._dead_letter(stream, entry_id, fields, attempts, reason=f"unreadable event: {error}")
            return None

    async def _handle(self, stream: str, entry_id: str, event: Event, attempts: int) -> None:
        with tracing.consuming(
            self._tracer,
            event_type=event.type,
            event_id=event.id,
            traceparent=event.traceparent,
            stream=stream,
            group=self._group,
        ):
            try:
                await self._handler(event)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                EVENTS_HANDLED.labels(stream=stream, type=event.type, outcome="failed").inc()
                log.exception(
                    "handling %s %s failed (attempt %d); it stays pending", event.type, event.id, attempts
                )
                tracing.record_failure(error)
                return
            await self._redis.xack(stream, self._group, entry_id)
            EVENTS_HANDLED.labels(stream=stream, type=event.type, outcome="ok").inc()

    async def _dead_letter(
        self, stream: str, entry_id: str, fields: Fields, attempts: int, reason: str
    ) -> None:
        dead = dead_letter_stream(stream, self._group)
        record = {
            **fields,
            "source_stream": stream,
            "source_id": entry_id,
            "attempts": str(attempts),
            "reason": reason,
        }
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.xadd(dead, cast(dict[Any, Any], record))
            pipe.xack(stream, self._group, entry_id)
            await pipe.execute()
        EVENTS_HANDLED.labels(stream=stream, type="unknown", outcome="dead_lettered").inc()
        log.error("event %s on %s dead-lettered to %s: %s", entry_id, stream, dead, reason)
