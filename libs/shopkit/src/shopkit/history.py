"""An owner's documents newest first, by equality lookups only: orders of a customer, payments of a payer.

Each document takes the next position in its owner's history as it is written
(1, 2, 3..., from a counter document per owner) and is grouped with its
neighbours by tens (the bucket field, `"<owner>#<position // 10>"`). A page of
the newest documents is then an equality lookup of the few buckets it spans,
whatever the length of the owner's history: on the embedded store a sort, a
range or a limit would read every document the owner ever wrote
(docs/architecture.md, "The embedded store", limit 1). A position may be
missing (a write that died between reserving it and inserting, or a document
deleted since): a page then reads one bucket further.
"""

import asyncio
import logging
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from pymongo import ReturnDocument

from shopkit.mongo import Collection, Document, MongoDB

log = logging.getLogger(__name__)

BUCKET_SIZE = 10
COUNTERS = "counters"
MIGRATIONS = "migrations"


def bucket_name(owner_id: str, bucket: int) -> str:
    return f"{owner_id}#{bucket}"


def bucket_of(owner_id: str, seq: int) -> str:
    """The bucket of the document at position `seq` of its owner's history."""
    return bucket_name(owner_id, seq // BUCKET_SIZE)


@dataclass(frozen=True)
class History:
    """How one collection's documents are placed in their owners' histories."""

    collection: str
    owner_field: str  # "customerId"
    seq_field: str  # "customerSeq": the position, 1 for the owner's first document
    bucket_field: str  # "customerBucket": what pages are looked up by
    counter_prefix: str  # "customer": the owner's counter is "customer:<owner id>"

    def counter_id(self, owner_id: str) -> str:
        return f"{self.counter_prefix}:{owner_id}"

    def position(self, owner_id: str, seq: int) -> Document:
        """The fields that place a document at `seq` in its owner's history."""
        return {self.seq_field: seq, self.bucket_field: bucket_of(owner_id, seq)}

    @property
    def migration_id(self) -> str:
        """The migration that gave documents written before positions existed theirs."""
        return f"{self.counter_prefix}Positions"


async def reserve(mongo: MongoDB, counter_id: str, count: int) -> int:
    """Advances a counter by `count` on its write connection; returns the last number reserved."""
    counter = await mongo.writes_for(counter_id)[COUNTERS].find_one_and_update(
        {"_id": counter_id}, {"$inc": {"value": count}}, upsert=True, return_document=ReturnDocument.AFTER
    )
    assert counter is not None, "an upsert always returns the document"
    return int(counter["value"])


class Histories:
    """Reads and extends the histories of one collection's owners."""

    def __init__(self, mongo: MongoDB, history: History) -> None:
        self._mongo = mongo
        self.history = history

    @property
    def _documents(self) -> Collection:
        return self._mongo.reads[self.history.collection]

    async def next_position(self, owner_id: str) -> Document:
        """Reserves the owner's next position; returns the fields that place a document there."""
        return self.history.position(owner_id, await self.reserve_position(owner_id))

    async def reserve_position(self, owner_id: str) -> int:
        """Reserves the owner's next position; returns it (1 for the owner's first document)."""
        return await reserve(self._mongo, self.history.counter_id(owner_id), 1)

    async def positioned(self, documents: Sequence[Document]) -> list[Document]:
        """The documents, each given the next position of its owner, in the order given."""
        by_owner: dict[str, list[Document]] = {}
        for document in documents:
            by_owner.setdefault(document[self.history.owner_field], []).append(document)
        lasts = await asyncio.gather(
            *(
                reserve(self._mongo, self.history.counter_id(owner), len(own))
                for owner, own in by_owner.items()
            )
        )
        return [
            {**document, **self.history.position(owner, seq)}
            for (owner, own), last in zip(by_owner.items(), lasts, strict=True)
            for seq, document in enumerate(own, start=last - len(own) + 1)
        ]

    async def pages(
        self,
        owner_ids: Sequence[str],
        limit: int,
        after_id: Hashable | None,
        projection: Document | None = None,
    ) -> dict[str, list[Document]]:
        """Up to `limit` documents of each owner, newest first, written before the document `after_id`."""
        history = self.history
        pages: dict[str, list[Document]] = {owner_id: [] for owner_id in owner_ids}
        # Per owner, the highest position the page may still hold.
        highest = await self._page_starts(owner_ids, after_id)
        while highest:
            spans = {
                owner_id: range(max(top - (limit - len(pages[owner_id])) + 1, 1), top + 1)
                for owner_id, top in highest.items()
            }
            buckets = {
                owner_id: [
                    bucket_name(owner_id, bucket)
                    for bucket in range((span.stop - 1) // BUCKET_SIZE, span.start // BUCKET_SIZE - 1, -1)
                ]
                for owner_id, span in spans.items()
            }
            found = await self._mongo.find_grouped(
                self._documents,
                history.bucket_field,
                [bucket for owner_buckets in buckets.values() for bucket in owner_buckets],
                projection=projection,
            )
            highest = {}
            for owner_id, span in spans.items():
                read = (document for bucket in buckets[owner_id] for document in found[bucket])
                page = pages[owner_id]
                newer = self._newest_first(d for d in read if d[history.seq_field] < span.stop)
                page.extend(newer[: limit - len(page)])
                lowest_read = span.start // BUCKET_SIZE * BUCKET_SIZE
                if len(page) < limit and lowest_read > 0:
                    highest[owner_id] = lowest_read - 1
        return pages

    def _newest_first(self, documents: Iterable[Document]) -> list[Document]:
        return sorted(documents, key=lambda document: int(document[self.history.seq_field]), reverse=True)

    async def _page_starts(self, owner_ids: Sequence[str], after_id: Hashable | None) -> dict[str, int]:
        """Per owner with documents, the highest position its page may hold.

        The newest document's, or the one just before the document `after_id`."""
        history = self.history
        if after_id is None:
            counters = await self._mongo.find_by_ids(
                self._mongo.reads[COUNTERS], [history.counter_id(owner_id) for owner_id in owner_ids]
            )
            return {
                owner_id: int(counters[history.counter_id(owner_id)]["value"])
                for owner_id in owner_ids
                if history.counter_id(owner_id) in counters
            }
        # The cursor names the last document of the previous page (another owner's names nothing here).
        found = await self._mongo.find_by_ids(
            self._documents, [after_id], {history.owner_field: 1, history.seq_field: 1}
        )
        last = found.get(after_id)
        if last is None or last[history.owner_field] not in owner_ids or last[history.seq_field] <= 1:
            return {}
        return {last[history.owner_field]: int(last[history.seq_field]) - 1}

    async def position_unpositioned(self, created_field: str = "createdAt") -> None:
        """Gives documents written before positions existed theirs, oldest first (once).

        Runs at start, before the service takes requests or events, so writing
        through one connection races with nothing. It reads the whole
        collection, once: a document in `migrations` records that it is done.
        """
        history = self.history
        migrations = self._mongo.reads[MIGRATIONS]
        if await migrations.find_one({"_id": history.migration_id}) is not None:
            return
        unpositioned = await self._documents.find(
            {history.seq_field: {"$exists": False}}, {history.owner_field: 1, created_field: 1}
        ).to_list()
        if unpositioned:
            log.info("giving %d %s their positions (once)", len(unpositioned), history.collection)
        ordered = sorted(unpositioned, key=lambda document: (document[created_field], document["_id"]))
        for document in await self.positioned(ordered):
            # One update each: FerretDB 1.24 stopped answering, for good, an `update`
            # command carrying 177 of them (measured on the bench's data set).
            await self._mongo.writes[history.collection].update_one(
                {"_id": document["_id"]},
                {"$set": {field: document[field] for field in (history.seq_field, history.bucket_field)}},
            )
        await self._mongo.writes[MIGRATIONS].update_one(
            {"_id": history.migration_id},
            {"$set": {"at": datetime.now(UTC), history.collection: len(unpositioned)}},
            upsert=True,
        )
