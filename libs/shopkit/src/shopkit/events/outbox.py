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
import contextlib
import json
import logging
from typing import Any

from pymongo.errors import PyMongoError
from redis.asyncio import Redis
from redis.exceptions import RedisError

from shopkit.events.envelope import Event
from shopkit.events.streams import dead_letter_stream, publish, raise_if_cancelled
from shopkit.mongo import MongoDB

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


class OutboxRelay:
    """Publishes outbox events: the documents it is told about at once, all others by sweeping.

    The service calls `notify(document_id)` right after a write
    that pushed events, and the relay publishes that document's outbox with an
    `_id` lookup. A sweep of the flagged documents, at start and then every
    `sweep_interval` seconds, catches what a crashed process left behind.
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
                with contextlib.suppress(TimeoutError):
                    document_id = await asyncio.wait_for(
                        self._written.get(), timeout=max(next_sweep - loop.time(), 0.0)
                    )
                    await self._relay({"_id": document_id})
            except asyncio.CancelledError:
                raise
            except (PyMongoError, RedisError, OSError) as error:
                # The sweep will find whatever this attempt left unpublished.
                log.warning("outbox relay to %s paused: %s", self._stream, error)
                raise_if_cancelled()
                await asyncio.sleep(1.0)
                next_sweep = 0.0

    async def relay_pending(self) -> int:
        """Publishes the events of every flagged document; returns how many it published."""
        return await self._relay_until_done(FLAGGED)

    async def _relay_until_done(self, filter_: dict[str, Any]) -> int:
        relayed = 0
        while True:
            published, visited = await self._relay(filter_)
            relayed += published
            if visited == 0:
                return relayed

    async def _relay(self, filter_: dict[str, Any]) -> tuple[int, int]:
        """Publishes the outboxes of up to `batch` matching documents: (events published, documents)."""
        relayed = visited = 0
        cursor = self._mongo.reads[self._collection].find(filter_, {OUTBOX_FIELD: 1}).limit(self._batch)
        async for document in cursor:
            visited += 1
            outbox = document.get(OUTBOX_FIELD, [])
            for event_doc in outbox:
                try:
                    event = Event.from_doc(event_doc)
                except (KeyError, ValueError, TypeError, AttributeError) as error:
                    await self._dead_letter(document["_id"], event_doc, error)
                else:
                    await publish(self._redis, self._stream, event)
                relayed += 1
            await self._remove(document["_id"], outbox)
        return relayed, visited

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
