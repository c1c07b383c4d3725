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

The store hands its relay the outbox entries each write that added events
left (`OutboxWritten`), so they leave at once; a sweep catches what a crashed
process left behind.

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
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Iterable, Mapping, Sequence
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


@dataclass(frozen=True)
class Entries:
    """The outbox entries of one place (a document, a list), exactly as stored."""

    place: Hashable
    stored: list[Any]


def outbox_entries(document: Mapping[str, Any]) -> Entries:
    """The outbox of a document as a write returned it (`ReturnDocument.AFTER`), for the relay."""
    return Entries(document["_id"], list(document.get(OUTBOX_FIELD, [])))


# What a store calls after a write that added events: the place's entries as that write left them.
OutboxWritten = Callable[[Entries], None]


def nobody_notified(written: Entries) -> None:
    """For a store without a running relay (tools, tests): the sweep publishes its events."""


@dataclass(frozen=True)
class _Taken:
    """Entries of one place a relay is publishing and removing: as stored, their events, their keys."""

    entries: Entries
    events: list[Event]
    keys: list[str]


def _entry_key(place: Hashable, entry: str) -> str:
    """Names an outbox entry among those in a relay's hand: its event id (or, for an entry that is
    not an event, its text) at its place."""
    return f"{place!r}/{entry}"


class Outbox(Protocol):
    """Where a store keeps its events until the relay has published them."""

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
    """Publishes an outbox: what its store hands it at once, everything else by sweeping.

    The store calls `notify(entries)` right after a write that added events,
    with the entries of that place as the write left them (the document it
    returned; delivery: the entry it pushed). The relay publishes every
    event notified since its last pass in one Redis round trip, in the order
    they were written: under load one pass carries many writes instead of
    queueing them. It then removes them from the outbox in a task of its own
    while the next passes go on: a store command neither on the way from the
    write to the stream nor in the next pass's way. A sweep, at start and then
    every `sweep_interval` seconds, catches what a crashed process left behind.
    An entry is in the relay's hand from its notification (or the sweep's
    read) until its removal is done, and is published at most once meanwhile.
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
        self._written: asyncio.Queue[_Taken] = asyncio.Queue()
        # At 0 from the start, so that Prometheus' rate() sees the first events too.
        self._published = EVENTS_PUBLISHED.labels(stream=stream)
        # The entries in hand (`_entry_key`), and the removals under way.
        self._in_hand: set[str] = set()
        self._removals: set[asyncio.Task[None]] = set()

    def notify(self, written: Entries) -> None:
        """Tells the relay that a write just left these entries at their place of the outbox."""
        taken = _Taken(Entries(written.place, []), [], [])
        self._take_entries(written, taken, unreadable_too=False)  # the sweep dead-letters those
        if taken.keys:
            self._written.put_nowait(taken)

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
                    await self._publish(written)
                    self._remove_meanwhile(written)
            except asyncio.CancelledError:
                raise
            except (PyMongoError, RedisError, OSError) as error:
                # The sweep will find whatever this attempt left unpublished.
                log.warning("outbox relay to %s paused: %s", self._stream, error)
                raise_if_cancelled()
                await asyncio.sleep(1.0)
                next_sweep = 0.0

    async def _next_written(self, wait: float) -> list[_Taken]:
        """What was notified since the last pass (up to `batch` writes), waiting up to `wait` s for one."""
        try:
            written = [await asyncio.wait_for(self._written.get(), timeout=wait)]
        except TimeoutError:
            return []
        while len(written) < self._batch and not self._written.empty():
            written.append(self._written.get_nowait())
        return written

    async def relay_pending(self) -> int:
        """Publishes every pending event; returns how many entries it took out of the outbox."""
        relayed = 0
        async for pending in self._outbox.sweep(self._batch):
            taken: list[_Taken] = []
            try:
                for entries in pending:
                    taken.append(_Taken(Entries(entries.place, []), [], []))
                    await self._take_read(entries, taken[-1])
            except BaseException:
                self._release(taken)
                raise
            taken = [each for each in taken if each.keys]
            await self._publish(taken)
            await self._remove(taken)
            relayed += sum(len(each.keys) for each in taken)
        return relayed

    async def _take_read(self, read: Entries, taken: _Taken) -> None:
        """Takes the entries read that are not in hand already; dead-letters those that are no event
        (they are removed with the rest)."""
        for stored, error in self._take_entries(read, taken, unreadable_too=True):
            await self._dead_letter(read.place, stored, error)

    def _take_entries(
        self, entries: Entries, taken: _Taken, *, unreadable_too: bool
    ) -> list[tuple[Any, Exception]]:
        """Takes, in their order, the entries not in hand already: those holding events, and with
        `unreadable_too` those holding none, which it returns with the reason."""
        unreadable: list[tuple[Any, Exception]] = []
        for stored in entries.stored:
            try:
                event = self._outbox.decode(stored)
            except (KeyError, ValueError, TypeError, AttributeError) as error:
                if unreadable_too and self._take(
                    taken, stored, _entry_key(entries.place, repr(stored)), None
                ):
                    unreadable.append((stored, error))
            else:
                self._take(taken, stored, _entry_key(entries.place, event.id), event)
        return unreadable

    def _take(self, taken: _Taken, stored: Any, key: str, event: Event | None) -> bool:
        """Takes an entry into the relay's hand; False if it is there already."""
        if key in self._in_hand:
            return False
        self._in_hand.add(key)
        taken.entries.stored.append(stored)
        taken.keys.append(key)
        if event is not None:
            taken.events.append(event)
        return True

    def _release(self, taken: Iterable[_Taken]) -> None:
        for each in taken:
            self._in_hand.difference_update(each.keys)

    async def _publish(self, taken: list[_Taken]) -> None:
        """Publishes the events taken, in one round trip; if that fails, lets go of them all (the
        next sweep publishes them)."""
        publishing = self._redis.pipeline(transaction=False)
        for each in taken:
            for event in each.events:
                add_to(publishing, self._stream, event)
        try:
            self._published.inc(len(await publishing.execute()))
        except BaseException:
            self._release(taken)
            raise

    async def _remove(self, taken: list[_Taken]) -> None:
        try:
            await asyncio.gather(*(self._outbox.remove(each.entries) for each in taken))
        finally:
            self._release(taken)

    def _remove_meanwhile(self, taken: list[_Taken]) -> None:
        """Removes published entries in a task of its own, while the relay goes on."""
        removal = asyncio.create_task(self._remove_or_leave(taken))
        self._removals.add(removal)
        removal.add_done_callback(self._removals.discard)

    async def _remove_or_leave(self, taken: list[_Taken]) -> None:
        try:
            await self._remove(taken)
        except (PyMongoError, RedisError, OSError) as error:
            # Left in the outbox: the sweep publishes them again (consumers deduplicate) and
            # removes them.
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

    async def _read(self, places: Sequence[Hashable]) -> list[Entries]:
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
                    yield await self._read(places)
                    places = []
            if places:
                yield await self._read(places)
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
