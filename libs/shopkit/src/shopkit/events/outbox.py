"""The transactional outbox, and the one relay that publishes every service's outbox.

A service never publishes from a resolver. Its store writes each event it
produces together with the change the event describes, in the same atomic
write, into an outbox; `OutboxRelay` then publishes the outbox's entries to the
service's stream and removes them. Where an outbox lives is the store's
business, behind the `Outbox` protocol:

- **MongoDB services** (`MongoOutbox`): an `outbox` array on the very document
  whose state the event describes, appended in the same single-document update
  (atomic on MongoDB and FerretDB alike, no multi-document transaction needed).
  The same update sets `outboxPending: true` (`outbox_flag()`), which the relay
  unsets once the outbox is empty. The sweep looks documents up by that flag,
  an equality every server answers from an index (each service lists it among
  its equality fields), where `{"outbox.0": {"$exists": true}}` would read the
  whole collection.
- **delivery** (`delivery.store.DeliveryOutbox`): a Redis list, pushed in the
  same MULTI/EXEC as the change.

The store tells its relay after each write that added events (`OutboxWritten`),
so they leave at once; a sweep catches what a crashed process left behind.

A relay that dies after XADD but before the removal publishes the event again
on restart; consumers deduplicate by event id, so the duplicate is harmless.
An entry that is not an event (a bug, or a hand edit) would stop the relay at
the same place for ever: it is moved to the dead-letter stream
`<stream>.dead.outbox` with the reason, and the relay goes on.

While it runs, the relay reports on /metrics the outbox's backlog and, as its
stream's producer, what the stream's consumer groups have left undone
(`shopkit.events.stream_metrics`).
"""

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pymongo.errors import PyMongoError
from redis.asyncio import Redis
from redis.exceptions import RedisError

from shopkit.events.envelope import Event
from shopkit.events.stream_metrics import OUTBOX_GROUP, stream_readings
from shopkit.events.streams import add_to, dead_letter_stream, raise_if_cancelled
from shopkit.metrics import EVENTS_PUBLISHED, PROBES, Reading
from shopkit.mongo import UNCOUNTED, Collection, MongoDB

log = logging.getLogger(__name__)

OUTBOX_FIELD = "outbox"
PENDING_FLAG = "outboxPending"
FLAGGED = {PENDING_FLAG: True}
EMPTIED = {f"{OUTBOX_FIELD}.0": {"$exists": False}}
# The backlog is counted up to this many places, so reading it stays cheap however far behind.
OUTBOX_BACKLOG_CAP = 1000


def outbox_push(*events: Event) -> dict[str, Any]:
    """The `$push` clause that appends events to a document's outbox."""
    return {OUTBOX_FIELD: {"$each": [event.to_doc() for event in events]}}


def outbox_flag() -> dict[str, Any]:
    """The `$set` clause (or inserted fields) that goes with every `outbox_push`."""
    return dict(FLAGGED)


# What a store calls after a write that added events to a place of its outbox.
OutboxWritten = Callable[[Hashable], None]


def nobody_notified(place: Hashable) -> None:
    """For a store without a running relay (tools, tests): the sweep publishes its events."""


@dataclass(frozen=True)
class Entries:
    """The outbox entries read from one place (a document, a list), exactly as stored."""

    place: Hashable
    stored: list[Any]


@dataclass(frozen=True)
class _Taken:
    """The entries of one place a relay pass published, to remove, and their keys (`_entry_key`)."""

    entries: Entries
    keys: list[str]


def _entry_key(place: Hashable, entry: str) -> str:
    """Names an outbox entry among those being removed: its event id (or, for an entry that is not
    an event, its text) at its place."""
    return f"{place!r}/{entry}"


class Outbox(Protocol):
    """Where a store keeps its events until the relay has published them."""

    def read(self, places: Sequence[Hashable]) -> Awaitable[list[Entries]]:
        """The entries at these places, which the store just notified."""
        ...

    def sweep(self, batch: int) -> AsyncIterator[list[Entries]]:
        """Entries waiting anywhere, `batch` places at a time, as they are when each batch is read."""
        ...

    def remove(self, entries: Entries) -> Awaitable[None]:
        """Takes these published entries out of the outbox; entries added meanwhile stay."""
        ...

    def decode(self, stored: Any) -> Event:
        """The event an entry holds; raises KeyError, ValueError or TypeError if it holds none."""
        ...

    def backlog(self, cap: int) -> Awaitable[int]:
        """How many places hold events (at most `cap`), for /metrics: not counted as store work."""
        ...


class OutboxRelay:
    """Publishes an outbox: the places it is told about at once, all others by sweeping.

    The store calls `notify(place)` right after a write that added events
    there. The relay takes every place notified since its last pass, reads
    their entries in one store call, publishes the events in one Redis round
    trip and removes them concurrently: under load one pass carries many writes
    instead of queueing them. The next pass does not wait for those removals,
    which under load took as long as the rest of the pass: what it reads back
    while they run is published once, because entries being removed are
    skipped. (Reading the outbox back, rather than publishing the events the
    store wrote, is what keeps a sweep and a notification of the same place
    from publishing its events twice.) A sweep, at start and then every
    `sweep_interval` seconds, catches what a crashed process left behind.
    """

    def __init__(
        self,
        outbox: Outbox,
        redis: Redis,
        stream: str,
        *,
        sweep_interval: float = 30.0,
        batch: int = 100,
    ) -> None:
        self._outbox = outbox
        self._redis = redis
        self._stream = stream
        self._sweep_interval = sweep_interval
        self._batch = batch
        self._written: asyncio.Queue[Hashable] = asyncio.Queue()
        # At 0 from the start, so that Prometheus' rate() sees the first events too.
        self._published = EVENTS_PUBLISHED.labels(stream=stream)
        # The entries published whose removal from the outbox is under way (see `_entry_key`).
        self._removing: set[str] = set()
        self._removals: set[asyncio.Task[None]] = set()

    def notify(self, place: Hashable) -> None:
        """Tells the relay that events were just added at this place of the outbox."""
        self._written.put_nowait(place)

    async def run(self) -> None:
        unregister = PROBES.register(f"outbox-relay:{self._stream}", self.readings)
        try:
            await self._relay()
        finally:
            unregister()
            # What these leave in the outbox is published again by the next sweep; consumers
            # deduplicate by event id.
            for removal in self._removals:
                removal.cancel()
            await asyncio.gather(*self._removals, return_exceptions=True)

    async def readings(self) -> list[Reading]:
        """The outbox's backlog, and what the stream's consumer groups have left undone."""
        backlog = await self._outbox.backlog(OUTBOX_BACKLOG_CAP)
        return [
            Reading("shopgraph_outbox_backlog", {"stream": self._stream}, float(backlog)),
            *await stream_readings(self._redis, self._stream),
        ]

    async def _relay(self) -> None:
        next_sweep = 0.0  # sweep at start: a previous process may have left events
        loop = asyncio.get_running_loop()
        while True:
            raise_if_cancelled()
            try:
                if loop.time() >= next_sweep:
                    await self.relay_pending()
                    next_sweep = loop.time() + self._sweep_interval
                written = await self._next_written(wait=max(next_sweep - loop.time(), 0.0))
                if written:
                    self._remove_meanwhile(await self._publish(await self._outbox.read(written)))
            except asyncio.CancelledError:
                raise
            except (PyMongoError, RedisError, OSError) as error:
                # The sweep will find whatever this attempt left unpublished.
                log.warning("outbox relay to %s paused: %s", self._stream, error)
                raise_if_cancelled()
                await asyncio.sleep(1.0)
                next_sweep = 0.0

    async def _next_written(self, wait: float) -> list[Hashable]:
        """The places notified since the last pass (up to `batch`), waiting up to `wait` s for one."""
        try:
            written = {await asyncio.wait_for(self._written.get(), timeout=wait): None}
        except TimeoutError:
            return []
        while len(written) < self._batch and not self._written.empty():
            written[self._written.get_nowait()] = None
        return list(written)

    async def relay_pending(self) -> int:
        """Publishes every pending event; returns how many entries it took out of the outbox."""
        relayed = 0
        async for pending in self._outbox.sweep(self._batch):
            published = await self._publish(pending)
            await self._remove(published)
            relayed += sum(len(taken.entries.stored) for taken in published)
        return relayed

    async def _publish(self, read: Iterable[Entries]) -> list[_Taken]:
        """Publishes the entries read that are not being removed already; returns them, to remove.

        An entry that is not an event is dead-lettered instead, and removed all the same."""
        publishing = self._redis.pipeline(transaction=False)
        published: list[_Taken] = []
        for entries in read:
            taken = _Taken(Entries(entries.place, []), [])
            for stored in entries.stored:
                try:
                    event = self._outbox.decode(stored)
                except (KeyError, ValueError, TypeError, AttributeError) as error:
                    if self._take(taken, stored, _entry_key(entries.place, repr(stored))):
                        await self._dead_letter(entries.place, stored, error)
                else:
                    if self._take(taken, stored, _entry_key(entries.place, event.id)):
                        add_to(publishing, self._stream, event)
            if taken.keys:
                published.append(taken)
        self._published.inc(len(await publishing.execute()))
        return published

    def _take(self, taken: _Taken, stored: Any, key: str) -> bool:
        """Takes an entry to publish and remove; False if it is being removed already."""
        if key in self._removing:
            return False
        self._removing.add(key)
        taken.entries.stored.append(stored)
        taken.keys.append(key)
        return True

    async def _remove(self, published: list[_Taken]) -> None:
        try:
            await asyncio.gather(*(self._outbox.remove(taken.entries) for taken in published))
        finally:
            for taken in published:
                self._removing.difference_update(taken.keys)

    def _remove_meanwhile(self, published: list[_Taken]) -> None:
        """Removes these published entries in a task of its own, while the relay goes on."""
        if not published:
            return
        removal = asyncio.create_task(self._remove_or_leave(published))
        self._removals.add(removal)
        removal.add_done_callback(self._removals.discard)

    async def _remove_or_leave(self, published: list[_Taken]) -> None:
        try:
            await self._remove(published)
        except (PyMongoError, RedisError, OSError) as error:
            # Left in the outbox: a later pass or the sweep publishes them again (consumers
            # deduplicate) and removes them.
            log.warning("outbox relay to %s could not remove published events: %s", self._stream, error)

    async def _dead_letter(self, place: Hashable, stored: Any, error: Exception) -> None:
        dead = dead_letter_stream(self._stream, OUTBOX_GROUP)
        record = {
            "document_id": str(place),
            "entry": json.dumps(stored, default=str),
            "reason": f"unreadable outbox entry: {error!r}",
        }
        await self._redis.xadd(dead, record)  # type: ignore[arg-type]
        log.error("outbox entry of %s is not an event (%r): moved to %s", place, error, dead)


class MongoOutbox:
    """The outbox of a MongoDB collection: each document's `outbox` array (see the module's doc)."""

    def __init__(self, mongo: MongoDB, collection: str) -> None:
        self._mongo = mongo
        self._collection = collection

    @property
    def _reads(self) -> Collection:
        return self._mongo.reads[self._collection]

    async def read(self, places: Sequence[Hashable]) -> list[Entries]:
        found = await self._mongo.find_by_ids(self._reads, places, {OUTBOX_FIELD: 1})
        return [Entries(place, document.get(OUTBOX_FIELD, [])) for place, document in found.items()]

    async def sweep(self, batch: int) -> AsyncIterator[list[Entries]]:
        # One query for the whole sweep, and each batch of the documents it names read back
        # fresh (a sweep publishes what is there now, not what the query saw). A query per
        # batch with .limit(batch) would read the whole backlog each time on FerretDB, which
        # cannot push a limit down with a filter (docs/architecture.md, "The embedded store"):
        # 99,000 waiting orders then drained at ~7 documents/s. A flagged document whose outbox
        # is already empty is read back as such, so that its removal drops the flag.
        flagged = self._reads.find(FLAGGED, {"_id": 1}, batch_size=batch)
        try:
            places: list[Hashable] = []
            async for document in flagged:
                places.append(document["_id"])
                if len(places) == batch:
                    yield await self.read(places)
                    places = []
            if places:
                yield await self.read(places)
        finally:
            await flagged.close()

    def decode(self, stored: Any) -> Event:
        return Event.from_doc(stored)

    async def backlog(self, cap: int) -> int:
        # The sweep's own indexed lookup, capped. (On FerretDB the cap does not bound the
        # work: the whole backlog is read. That costs nothing while the outbox is near
        # empty, as it is but for an outage of the events Redis.)
        flagged = self._reads.find(FLAGGED, {"_id": 1}, comment=UNCOUNTED).limit(cap).batch_size(cap + 1)
        return len(await flagged.to_list())

    async def remove(self, entries: Entries) -> None:
        """Takes the published entries out of the document's outbox, on the document's write connection."""
        collection = self._mongo.writes_for(entries.place)[self._collection]
        # Usually nothing was added meanwhile: empty the outbox and drop the flag in one update.
        emptied = await collection.update_one(
            {"_id": entries.place, OUTBOX_FIELD: entries.stored},
            {"$set": {OUTBOX_FIELD: []}, "$unset": {PENDING_FLAG: ""}},
        )
        if emptied.matched_count:
            return
        for event_doc in entries.stored:
            # Pull the whole stored element: FerretDB's $pull matches by
            # equality only, and the element as read is equal to itself.
            await collection.update_one({"_id": entries.place}, {"$pull": {OUTBOX_FIELD: event_doc}})
        # Only if no event arrived meanwhile; one that did keeps the flag for the next pass.
        await collection.update_one({"_id": entries.place, **EMPTIED}, {"$unset": {PENDING_FLAG: ""}})
