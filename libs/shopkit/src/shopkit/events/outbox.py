"""The transactional outbox for MongoDB services.

A service never publishes from a resolver. It appends the event to an
`outbox` array on the very document whose state the event describes, in the
same single-document update (atomic on MongoDB and FerretDB alike, no
multi-document transaction needed). `OutboxRelay` then publishes each pending
event to the service's stream and removes it from the document.

A relay that dies after XADD but before the removal publishes the event again
on restart; consumers deduplicate by event id, so the duplicate is harmless.
"""

import asyncio
import contextlib
import logging
from typing import Any

from pymongo.errors import PyMongoError
from redis.asyncio import Redis
from redis.exceptions import RedisError

from shopkit.events.envelope import Event
from shopkit.events.streams import publish, raise_if_cancelled
from shopkit.mongo import Collection

log = logging.getLogger(__name__)

OUTBOX_FIELD = "outbox"
PENDING_FILTER = {f"{OUTBOX_FIELD}.0": {"$exists": True}}


def outbox_push(*events: Event) -> dict[str, Any]:
    """The `$push` clause that appends events to a document's outbox."""
    return {OUTBOX_FIELD: {"$each": [event.to_doc() for event in events]}}


class OutboxRelay:
    def __init__(
        self,
        collections: list[Collection],
        redis: Redis,
        stream: str,
        *,
        idle_interval: float = 0.2,
        batch: int = 100,
    ) -> None:
        self._collections = collections
        self._redis = redis
        self._stream = stream
        self._idle_interval = idle_interval
        self._batch = batch
        self._wakeup = asyncio.Event()

    def notify(self) -> None:
        """Tells the relay that an event was just written, to skip the idle wait."""
        self._wakeup.set()

    async def run(self) -> None:
        while True:
            try:
                relayed = await self.relay_pending()
            except asyncio.CancelledError:
                raise
            except (PyMongoError, RedisError, OSError) as error:
                log.warning("outbox relay to %s paused: %s", self._stream, error)
                relayed = 0
                await asyncio.sleep(1.0)
            raise_if_cancelled()
            if relayed == 0:
                self._wakeup.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), timeout=self._idle_interval)

    async def relay_pending(self) -> int:
        """Publishes every pending event once; returns how many it published."""
        relayed = 0
        for collection in self._collections:
            cursor = collection.find(PENDING_FILTER, {OUTBOX_FIELD: 1}).limit(self._batch)
            async for document in cursor:
                for event_doc in document[OUTBOX_FIELD]:
                    await publish(self._redis, self._stream, Event.from_doc(event_doc))
                    # Pull the whole stored element: FerretDB's $pull matches by
                    # equality only, and the element as read is equal to itself.
                    await collection.update_one(
                        {"_id": document["_id"]}, {"$pull": {OUTBOX_FIELD: event_doc}}
                    )
                    relayed += 1
        return relayed
