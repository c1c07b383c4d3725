"""The transactional outbox for MongoDB services.

A service never publishes from a resolver. It appends the event to an
`outbox` array on the very document whose state the event describes, in the
same single-document update (atomic on MongoDB and FerretDB alike, no
multi-document transaction needed). `OutboxRelay` then publishes each pending
event to the service's stream and removes it from the document.

The same update sets `outboxPending: true` (`outbox_flag()`), which the relay
unsets once the outbox is empty. The sweep looks documents up by that flag, an
equality every server answers from an index (each service lists it among its
equality fields), where `{"outbox.0": {"$exists": true}}` would read the
whole collection.

A relay that dies after XADD but before the removal publishes the event again
on restart; consumers deduplicate by event id, so the duplicate is harmless.
An entry that is not an event (a bug, or a hand edit) would stop the relay at
the same document for ever: it is moved to the dead-letter stream
`<stream>.dead.outbox` with the reason, and the relay goes on.
"""

import asyncio
import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

from pymongo.errors import PyMongoError
from redis.asyncio import Redis
from redis.exceptions import RedisError

from shopkit.events.envelope import Event
from shopkit.events.streams import add_to, dead_letter_stream, raise_if_cancelled
from shopkit.mongo import Collection, Document, MongoDB

log = logging.getLogger(__name__)

OUTBOX_FIELD = "outbox"
PENDING_FLAG = "outboxPending"
FLAGGED = {PENDING_FLAG: True}
EMPTIED = {f"{OUTBOX_FIELD}.0": {"$exists": False}}


def outbox_push(*events: Event) -> dict[str, Any]:
    """The `$push` clause that appends events to a document's outbox."""
    return {OUTBOX_FIELD: {"$each": [event.to_doc() for event in events]}}


def outbox_flag() -> dict[str, Any]:
    """The `$set` clause (or inserted fields) that goes with every `outbox_push`."""
    return dict(FLAGGED)


# What a store calls after a write that pushed events into a document's outbox.
OutboxWritten = Callable[[Any], None]


def nobody_notified(document_id: Any) -> None:
    """For a store without a running relay (tools, tests): the sweep publishes its events."""


class OutboxRelay:
    """Publishes outbox events: the documents it is told about at once, all others by sweeping.

    The store calls `notify(document_id)` right after a write that pushed
    events into that document's outbox. The relay takes every document
    notified since its last pass, reads their outboxes in one store call,
    publishes the events in one Redis round trip and removes them from the
    documents concurrently: under load one pass carries many documents instead
    of queueing them. (Reading the outbox back, rather than publishing the
    events the store wrote, is what keeps a sweep and a notification of the
    same document from publishing its events twice.) A sweep of the flagged
    documents, at start and then every `sweep_interval` seconds, catches what
    a crashed process left behind.
    """

    def __init__(
        self,
        mongo: MongoDB,
        collection: str,
        redis: Redis,
        stream: str,
        *,
        sweep_interval: float = 30.0,
        batch: int = 100,
    ) -> None:
        self._mongo = mongo
        self._collection = collection
        self._redis = redis
        self._stream = stream
        self._sweep_interval = sweep_interval
        self._batch = batch
        self._written: asyncio.Queue[Any] = asyncio.Queue()

    def notify(self, document_id: Any) -> None:
        """Tells the relay that this document's outbox just received events."""
        self._written.put_nowait(document_id)

    async def run(self) -> None:
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
                    found = await self._mongo.find_by_ids(self._reads, written, {OUTBOX_FIELD: 1})
                    await self._publish_and_remove(found.values())
            except asyncio.CancelledError:
                raise
            except (PyMongoError, RedisError, OSError) as error:
                # The sweep will find whatever this attempt left unpublished.
                log.warning("outbox relay to %s paused: %s", self._stream, error)
                raise_if_cancelled()
                await asyncio.sleep(1.0)
                next_sweep = 0.0

    async def _next_written(self, wait: float) -> list[Any]:
        """The documents notified since the last pass (up to `batch`), waiting up to `wait` s for one."""
        try:
            written = {await asyncio.wait_for(self._written.get(), timeout=wait): None}
        except TimeoutError:
            return []
        while len(written) < self._batch and not self._written.empty():
            written[self._written.get_nowait()] = None
        return list(written)

    @property
    def _reads(self) -> Collection:
        return self._mongo.reads[self._collection]

    async def relay_pending(self) -> int:
        """Publishes the events of every flagged document; returns how many it published."""
        relayed = 0
        while True:
            flagged = await self._reads.find(FLAGGED, {OUTBOX_FIELD: 1}).limit(self._batch).to_list()
            if not flagged:
                return relayed
            relayed += await self._publish_and_remove(flagged)

    async def _publish_and_remove(self, documents: Iterable[Document]) -> int:
        """Publishes the outboxes of these documents (as read), then empties them; returns how many."""
        outboxes = {document["_id"]: document.get(OUTBOX_FIELD, []) for document in documents}
        publishing = self._redis.pipeline(transaction=False)
        relayed = 0
        for document_id, entries in outboxes.items():
            for entry in entries:
                try:
                    event = Event.from_doc(entry)
                except (KeyError, ValueError, TypeError, AttributeError) as error:
                    await self._dead_letter(document_id, entry, error)
                else:
                    add_to(publishing, self._stream, event)
                relayed += 1
        await publishing.execute()
        await asyncio.gather(
            *(self._remove(document_id, entries) for document_id, entries in outboxes.items())
        )
        return relayed

    async def _remove(self, document_id: Any, published: list[Any]) -> None:
        """Takes the published entries out of the document's outbox, on the document's write connection."""
        collection = self._mongo.writes_for(document_id)[self._collection]
        # Usually nothing was added meanwhile: empty the outbox and drop the flag in one update.
        emptied = await collection.update_one(
            {"_id": document_id, OUTBOX_FIELD: published},
            {"$set": {OUTBOX_FIELD: []}, "$unset": {PENDING_FLAG: ""}},
        )
        if emptied.matched_count:
            return
        for event_doc in published:
            # Pull the whole stored element: FerretDB's $pull matches by
            # equality only, and the element as read is equal to itself.
            await collection.update_one({"_id": document_id}, {"$pull": {OUTBOX_FIELD: event_doc}})
        # Only if no event arrived meanwhile; one that did keeps the flag for the next pass.
        await collection.update_one({"_id": document_id, **EMPTIED}, {"$unset": {PENDING_FLAG: ""}})

    async def _dead_letter(self, document_id: Any, entry: Any, error: Exception) -> None:
        dead = dead_letter_stream(self._stream, "outbox")
        record = {
            "document_id": str(document_id),
            "entry": json.dumps(entry, default=str),
            "reason": f"unreadable outbox entry: {error!r}",
        }
        await self._redis.xadd(dead, record)  # type: ignore[arg-type]
        log.error("outbox entry of %s is not an event (%r): moved to %s", document_id, error, dead)
