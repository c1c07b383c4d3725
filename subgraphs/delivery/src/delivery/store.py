"""All of the delivery service's Redis access (the only module that talks to its store).

Data model, in the store Redis (`REDIS_URL`, database 1 by default):

| key                                    | type       | holds                                               |
|----------------------------------------|------------|-----------------------------------------------------|
| `delivery:{id}`                        | string     | the delivery as JSON (`DeliveryRecord.to_json`)     |
| `delivery:{id}:events`                 | list       | its tracking events as JSON, oldest first           |
| `delivery:by-order:{orderId}`          | string     | the id of the order's one delivery                  |
| `delivery:by-tracking:{trackingNumber}`| string     | the id of the delivery with that tracking number    |
| `delivery:by-recipient:{userId}`       | sorted set | the user's delivery ids, score = creation time      |
| `delivery:applied-event:{eventId}`     | string     | marker: this consumed event was applied (30 days)   |
| `delivery:cancelled-order:{orderId}`   | string     | tombstone: the order was cancelled (when)           |
| `delivery:outbox`                      | list       | produced events (envelope JSON) not yet published   |

Every change is one optimistic transaction: WATCH the keys the decision depends
on, read them, then MULTI/EXEC the new state, its tracking event, the
applied-event marker and the produced event (pushed onto the outbox) together.
If another client touched a watched key in between, EXEC fails and the change
is re-read and retried, so concurrent duplicates of an event cannot both apply.

Produced events go through the outbox rather than straight to the stream
because the events stream may live on another Redis (`EVENTS_REDIS_URL`) that
no MULTI here can reach. `DeliveryOutbox` is that list as shopkit's
`OutboxRelay` drains it: every change that pushed an event notifies the relay
(`outbox_written`), which XADDs each entry to `shopgraph.events.delivery` and
then removes it. A relay that dies in between publishes the entry again;
consumers deduplicate by event id.

Delivery ids are uuid4 hex and tracking numbers have a fixed shape: any other
string means "no such delivery" and never becomes part of a key, so a client
cannot address `delivery:outbox` or an index key by passing it as an id.

Each round trip to Redis increments `STORE_COMMANDS` (store="redis") once,
labelled with its command, `PIPELINE <command>` for a batch, `SCRIPT <name>`
for a Lua script, `EXEC` for a transaction's commit, or `OUTBOX <command>` for
the relay's polling: the counter is the number of round trips, which is what
the N+1 tests compare.
"""

import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, TypeVar, cast

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import WatchError

from delivery.rules import CANCELLABLE, DeliveryStatus, check_carrier_move
from shopkit.errors import NotFound
from shopkit.events.envelope import Event
from shopkit.events.outbox import Entries, OutboxWritten, nobody_notified
from shopkit.metrics import STORE_COMMANDS, store_call

OUTBOX_KEY = "delivery:outbox"
ORDER_CANCELLED_NOTE = "The order was cancelled."
APPLIED_EVENT_TTL_SECONDS = 30 * 24 * 3600

_DELIVERY_ID = re.compile(r"[0-9a-f]{32}")
_TRACKING_NUMBER = re.compile(r"SG[A-Z2-7]{16}")

T = TypeVar("T")


def is_delivery_id(value: str) -> bool:
    return _DELIVERY_ID.fullmatch(value) is not None


def is_tracking_number(value: str) -> bool:
    return _TRACKING_NUMBER.fullmatch(value) is not None


def delivery_key(delivery_id: str) -> str:
    return f"delivery:{delivery_id}"


def tracking_events_key(delivery_id: str) -> str:
    return f"delivery:{delivery_id}:events"


def by_order_key(order_id: str) -> str:
    return f"delivery:by-order:{order_id}"


def by_tracking_key(tracking_number: str) -> str:
    return f"delivery:by-tracking:{tracking_number}"


def by_recipient_key(user_id: str) -> str:
    return f"delivery:by-recipient:{user_id}"


def applied_event_key(event_id: str) -> str:
    return f"delivery:applied-event:{event_id}"


def cancelled_order_key(order_id: str) -> str:
    return f"delivery:cancelled-order:{order_id}"


@dataclass(frozen=True)
class TrackingEntry:
    status: DeliveryStatus
    at: datetime
    note: str | None

    def to_json(self) -> str:
        return json.dumps({"status": self.status.value, "at": self.at.isoformat(), "note": self.note})

    @classmethod
    def from_json(cls, raw: str) -> "TrackingEntry":
        doc = json.loads(raw)
        return cls(
            status=DeliveryStatus(doc["status"]),
            at=datetime.fromisoformat(doc["at"]),
            note=doc["note"],
        )


@dataclass(frozen=True)
class DeliveryRecord:
    id: str
    order_id: str
    recipient_id: str
    status: DeliveryStatus
    carrier: str
    tracking_number: str
    address: dict[str, str | None]
    estimated_delivery: datetime | None
    created_at: datetime
    updated_at: datetime

    def to_json(self) -> str:
        return json.dumps(
            {
                "id": self.id,
                "orderId": self.order_id,
                "recipientId": self.recipient_id,
                "status": self.status.value,
                "carrier": self.carrier,
                "trackingNumber": self.tracking_number,
                "address": self.address,
                "estimatedDelivery": _iso_or_none(self.estimated_delivery),
                "createdAt": self.created_at.isoformat(),
                "updatedAt": self.updated_at.isoformat(),
            }
        )

    @classmethod
    def from_json(cls, raw: str) -> "DeliveryRecord":
        doc = json.loads(raw)
        estimated = doc["estimatedDelivery"]
        return cls(
            id=doc["id"],
            order_id=doc["orderId"],
            recipient_id=doc["recipientId"],
            status=DeliveryStatus(doc["status"]),
            carrier=doc["carrier"],
            tracking_number=doc["trackingNumber"],
            address=doc["address"],
            estimated_delivery=None if estimated is None else datetime.fromisoformat(estimated),
            created_at=datetime.fromisoformat(doc["createdAt"]),
            updated_at=datetime.fromisoformat(doc["updatedAt"]),
        )


@dataclass(frozen=True)
class StatusChange:
    """A committed transition: the delivery after it, where it came from, its tracking event."""

    delivery: DeliveryRecord
    previous_status: DeliveryStatus
    entry: TrackingEntry


EventFor = Callable[[StatusChange], Event]


@dataclass(frozen=True)
class TrackedDelivery:
    """A delivery and its tracking events, oldest first, as read together."""

    delivery: DeliveryRecord
    events: list[TrackingEntry]


# KEYS: index keys that hold a delivery id (`by_order_key`, `by_tracking_key`);
# ARGV: the delivery and events key formats (`delivery_key("%s")`,
# `tracking_events_key("%s")`). Per key: the delivery's JSON and its events, or
# nil where the key names no delivery.
INDEXED_DELIVERIES_SCRIPT = """
local replies = {}
for i, index_key in ipairs(KEYS) do
  local delivery_id = redis.call('GET', index_key)
  local delivery = delivery_id and redis.call('GET', string.format(ARGV[1], delivery_id))
  if delivery then
    replies[i] = {delivery, redis.call('LRANGE', string.format(ARGV[2], delivery_id), 0, -1)}
  else
    replies[i] = false
  end
end
return replies
"""


class DeliveryStore:
    def __init__(self, redis: Redis, outbox_written: OutboxWritten = nobody_notified) -> None:
        self._redis = redis
        # redis-py sends the script by its digest (EVALSHA), loading it once where Redis lacks it.
        self._indexed_deliveries = redis.register_script(INDEXED_DELIVERIES_SCRIPT)
        # Told of every change that pushed an event (the outbox relay, to publish it at once).
        self._outbox_written = outbox_written

    # Reads: each method costs a fixed number of round trips, however many keys.

    @store_call
    async def deliveries(self, delivery_ids: Sequence[str]) -> list[DeliveryRecord | None]:
        """The deliveries with these ids (None where there is none): one MGET."""
        valid = sorted({delivery_id for delivery_id in delivery_ids if is_delivery_id(delivery_id)})
        found: dict[str, DeliveryRecord] = {}
        if valid:
            raws = await self._mget(self._redis, [delivery_key(delivery_id) for delivery_id in valid])
            found = {
                delivery_id: DeliveryRecord.from_json(raw)
                for delivery_id, raw in zip(valid, raws, strict=True)
                if raw is not None
            }
        return [found.get(delivery_id) for delivery_id in delivery_ids]

    @store_call
    async def order_deliveries(self, order_ids: Sequence[str]) -> list[TrackedDelivery | None]:
        """Each order's delivery with its tracking events (None where it has none): one script call."""
        return await self._through_index([by_order_key(order_id) for order_id in order_ids])

    @store_call
    async def tracked_delivery(self, tracking_number: str) -> TrackedDelivery | None:
        """The delivery with this tracking number, with its events (None if unknown): one script call."""
        if not is_tracking_number(tracking_number):
            return None
        [found] = await self._through_index([by_tracking_key(tracking_number)])
        return found

    async def _through_index(self, index_keys: list[str]) -> list[TrackedDelivery | None]:
        """The deliveries these index keys name, each with its events.

        A delivery found through an index (an order's page, public tracking) is
        almost always shown with its events, and the id to read comes from the
        index: the script follows the index on the server, where three dependent
        round trips (index, delivery, events) would each pay a send and a wait.
        The events are read whether asked for or not; a delivery has a handful.
        """
        if not index_keys:
            return []
        _round_trip("SCRIPT indexed-deliveries")
        replies = await self._indexed_deliveries(
            keys=index_keys, args=[delivery_key("%s"), tracking_events_key("%s")]
        )
        return [
            None
            if reply is None
            else TrackedDelivery(
                delivery=DeliveryRecord.from_json(reply[0]),
                events=[TrackingEntry.from_json(raw) for raw in reply[1]],
            )
            for reply in cast(list[tuple[str, list[str]] | None], replies)
        ]

    @store_call
    async def deliveries_for_recipients(self, user_ids: Sequence[str]) -> list[list[DeliveryRecord]]:
        """Each user's deliveries, newest first: one pipeline of ZREVRANGE, one MGET."""
        if not user_ids:
            return []
        async with self._redis.pipeline(transaction=False) as pipe:
            for user_id in user_ids:
                pipe.zrevrange(by_recipient_key(user_id), 0, -1)
            _round_trip("PIPELINE ZREVRANGE")
            id_lists = cast(list[list[str]], await pipe.execute())
        records = await self.deliveries([delivery_id for ids in id_lists for delivery_id in ids])
        by_id = {record.id: record for record in records if record is not None}
        return [[by_id[delivery_id] for delivery_id in ids if delivery_id in by_id] for ids in id_lists]

    @store_call
    async def tracking_events(self, delivery_ids: Sequence[str]) -> list[list[TrackingEntry]]:
        """Each delivery's tracking events, oldest first: one pipeline of LRANGE."""
        valid = [delivery_id for delivery_id in delivery_ids if is_delivery_id(delivery_id)]
        found: dict[str, list[TrackingEntry]] = {}
        if valid:
            async with self._redis.pipeline(transaction=False) as pipe:
                for delivery_id in valid:
                    pipe.lrange(tracking_events_key(delivery_id), 0, -1)
                _round_trip("PIPELINE LRANGE")
                raw_lists = cast(list[list[str]], await pipe.execute())
            found = {
                delivery_id: [TrackingEntry.from_json(raw) for raw in raws]
                for delivery_id, raws in zip(valid, raw_lists, strict=True)
            }
        return [found.get(delivery_id, []) for delivery_id in delivery_ids]

    # Changes: each is one optimistic WATCH ... MULTI/EXEC transaction.

    @store_call
    async def create_delivery(
        self,
        delivery: DeliveryRecord,
        first_entry: TrackingEntry,
        event: Event,
        *,
        applied_event_id: str,
    ) -> bool:
        """Creates the order's delivery unless the event was applied, the order
        already has a delivery, or the order was cancelled. True if created."""
        guards = [
            applied_event_key(applied_event_id),
            by_order_key(delivery.order_id),
            cancelled_order_key(delivery.order_id),
        ]

        async def attempt(pipe: Pipeline) -> bool:
            if any(await self._mget(pipe, guards)):
                return False
            _begin(pipe)
            pipe.set(delivery_key(delivery.id), delivery.to_json())
            pipe.rpush(tracking_events_key(delivery.id), first_entry.to_json())
            pipe.set(by_order_key(delivery.order_id), delivery.id)
            pipe.set(by_tracking_key(delivery.tracking_number), delivery.id)
            pipe.zadd(by_recipient_key(delivery.recipient_id), {delivery.id: delivery.created_at.timestamp()})
            pipe.set(applied_event_key(applied_event_id), "1", ex=APPLIED_EVENT_TTL_SECONDS)
            pipe.rpush(OUTBOX_KEY, event.to_json())
            await self._commit(pipe)
            return True

        created = await self._optimistic(guards, attempt)
        if created:
            self._outbox_written(Entries(OUTBOX_KEY, [event.to_json()]))
        return created

    @store_call
    async def cancel_for_order(
        self,
        order_id: str,
        *,
        cancelled_at: datetime,
        applied_event_id: str,
        event_for: EventFor,
    ) -> StatusChange | None:
        """Records that the order was cancelled (so no delivery is created for it
        later) and cancels its delivery if that is still SCHEDULED.

        Returns the cancellation, or None when there was nothing to cancel (no
        delivery yet, already on its way, or this event was applied before).
        """
        marker = applied_event_key(applied_event_id)
        by_order = by_order_key(order_id)

        async def attempt(pipe: Pipeline) -> tuple[StatusChange, Event] | None:
            applied, delivery_id = await self._mget(pipe, [marker, by_order])
            if applied:
                return None
            current: DeliveryRecord | None = None
            if delivery_id is not None:
                _round_trip("WATCH")
                await pipe.watch(delivery_key(delivery_id))
                raw = await self._get(pipe, delivery_key(delivery_id))
                current = None if raw is None else DeliveryRecord.from_json(raw)
            _begin(pipe)
            pipe.set(cancelled_order_key(order_id), cancelled_at.isoformat())
            pipe.set(marker, "1", ex=APPLIED_EVENT_TTL_SECONDS)
            cancelled: tuple[StatusChange, Event] | None = None
            if current is not None and current.status in CANCELLABLE:
                change = _transition(
                    current, DeliveryStatus.CANCELLED, "The order was cancelled.", cancelled_at
                )
                cancelled = change, event_for(change)
                self._queue_change(pipe, *cancelled)
            await self._commit(pipe)
            return cancelled

        cancelled = await self._optimistic([marker, by_order], attempt)
        if cancelled is None:
            return None
        change, event = cancelled
        self._outbox_written(Entries(OUTBOX_KEY, [event.to_json()]))
        return change

    @store_call
    async def change_status(
        self,
        delivery_id: str,
        status: DeliveryStatus,
        *,
        note: str | None,
        at: datetime,
        event_for: EventFor,
    ) -> StatusChange:
        """A carrier's status update, allowed only along `rules.CARRIER_TRANSITIONS`."""
        if not is_delivery_id(delivery_id):
            raise NotFound(f"There is no delivery '{delivery_id}'.")
        key = delivery_key(delivery_id)

        async def attempt(pipe: Pipeline) -> tuple[StatusChange, Event]:
            raw = await self._get(pipe, key)
            if raw is None:
                raise NotFound(f"There is no delivery '{delivery_id}'.")
            current = DeliveryRecord.from_json(raw)
            check_carrier_move(current.status, status)
            change = _transition(current, status, note, at)
            event = event_for(change)
            _begin(pipe)
            self._queue_change(pipe, change, event)
            await self._commit(pipe)
            return change, event

        change, event = await self._optimistic([key], attempt)
        self._outbox_written(Entries(OUTBOX_KEY, [event.to_json()]))
        return change

    # Plumbing.

    def _queue_change(self, pipe: Pipeline, change: StatusChange, event: Event) -> None:
        delivery = change.delivery
        pipe.set(delivery_key(delivery.id), delivery.to_json())
        pipe.rpush(tracking_events_key(delivery.id), change.entry.to_json())
        pipe.rpush(OUTBOX_KEY, event.to_json())

    async def _optimistic(self, watch: list[str], attempt: Callable[[Pipeline], Awaitable[T]]) -> T:
        """Runs `attempt` with `watch` watched until its EXEC is not interrupted."""
        while True:
            async with self._redis.pipeline(transaction=True) as pipe:
                _round_trip("WATCH")
                await pipe.watch(*watch)
                try:
                    return await attempt(pipe)
                except WatchError:
                    continue  # a watched key changed before EXEC: read again
                finally:
                    if pipe.watching:  # no EXEC: leaving the block sends UNWATCH
                        _round_trip("UNWATCH")

    # The store connection decodes responses (shopkit.redis_client), so values are str.

    async def _get(self, client: Redis, key: str) -> str | None:
        _round_trip("GET")
        return cast(str | None, await client.get(key))

    async def _mget(self, client: Redis, keys: list[str]) -> list[str | None]:
        _round_trip("MGET")
        return cast(list[str | None], await client.mget(keys))

    async def _commit(self, pipe: Pipeline) -> list[Any]:
        _round_trip("EXEC")
        results: list[Any] = await pipe.execute()
        return results


def _round_trip(command: str) -> None:
    STORE_COMMANDS.labels(store="redis", command=command).inc()


def _begin(pipe: Pipeline) -> None:
    """Ends the watched reads; the commands after this are queued for EXEC."""
    pipe.multi()  # type: ignore[no-untyped-call]  # redis-py leaves multi() unannotated


def _transition(
    current: DeliveryRecord, status: DeliveryStatus, note: str | None, at: datetime
) -> StatusChange:
    return StatusChange(
        delivery=replace(current, status=status, updated_at=at),
        previous_status=current.status,
        entry=TrackingEntry(status=status, at=at, note=note),
    )


def _iso_or_none(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


class DeliveryOutbox:
    """`delivery:outbox` as shopkit's `OutboxRelay` drains it: one list, so one place."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def sweep(self, batch: int) -> AsyncIterator[list[Entries]]:
        # Published entries leave the list, so the head is the next batch; unless the relay left
        # it as it was (its entries are in the relay's hand, being removed): the rest of the list
        # then waits for the next sweep.
        last: list[Any] | None = None
        while (pending := await self._pending(batch)) and pending[0].stored != last:
            last = pending[0].stored
            yield pending

    @store_call
    async def _pending(self, batch: int) -> list[Entries]:
        return await self._head(batch - 1)

    @store_call
    async def remove(self, entries: Entries) -> None:
        _round_trip("OUTBOX LREM")
        removing = self._redis.pipeline(transaction=False)
        for stored in entries.stored:
            removing.lrem(OUTBOX_KEY, 1, stored)
        await removing.execute()

    def decode(self, stored: Any) -> Event:
        return Event.from_json(stored)

    async def backlog(self, cap: int) -> int:
        """The list's length (one place per event here); read for /metrics, so not a round trip counted."""
        return min(int(await self._redis.llen(OUTBOX_KEY)), cap)

    async def _head(self, last: int) -> list[Entries]:
        _round_trip("OUTBOX LRANGE")
        stored = cast(list[str], await self._redis.lrange(OUTBOX_KEY, 0, last))
        return [Entries(OUTBOX_KEY, stored)] if stored else []
