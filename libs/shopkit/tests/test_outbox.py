import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo.asynchronous.collection import AsyncCollection
from redis.asyncio import Redis
from redis.exceptions import RedisError

from shopkit.events.envelope import Event
from shopkit.events.outbox import Entries, MongoOutbox, OutboxRelay, outbox_flag, outbox_push
from shopkit.events.streams import publish, read_events
from shopkit.mongo import Database, Document, MongoDB
from shopkit.redis_client import connect as connect_redis
from shopkit.testing import running


@pytest.fixture
async def mongodb(mongodb_uri: str, database_name: str) -> AsyncIterator[MongoDB]:
    mongodb = MongoDB(mongodb_uri, database_name, service="test")
    yield mongodb
    await mongodb.writes.client.drop_database(database_name)
    await mongodb.close()


@pytest.fixture
def database(mongodb: MongoDB) -> Database:
    return mongodb.writes


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = connect_redis(redis_url)
    yield client
    await client.aclose()


async def test_relay_publishes_each_event_once_and_empties_the_outbox(
    database: Database, mongodb: MongoDB, redis: Redis
) -> None:
    stream = f"test.{uuid.uuid4().hex}"
    first, second = Event("a.b", {"n": 1}, "test"), Event("a.b", {"n": 2}, "test")
    await database.things.insert_one({"_id": "t1", "outbox": [first.to_doc()], **outbox_flag()})
    await database.things.update_one({"_id": "t1"}, {"$push": outbox_push(second), "$set": outbox_flag()})

    relay = OutboxRelay(MongoOutbox(mongodb, "things"), redis, stream)
    assert await relay.relay_pending() == 2
    assert await relay.relay_pending() == 0

    assert [event.id for event in await read_events(redis, stream)] == [first.id, second.id]
    assert await database.things.find_one({"_id": "t1"}) == {"_id": "t1", "outbox": []}


async def test_a_relay_that_died_before_removing_republishes(
    database: Database, mongodb: MongoDB, redis: Redis
) -> None:
    stream = f"test.{uuid.uuid4().hex}"
    event = Event("a.b", {"n": 1}, "test")
    await database.things.insert_one({"_id": "t1", "outbox": [event.to_doc()], **outbox_flag()})
    # The first relay published, then died before it could remove the event.
    await publish(redis, stream, event)

    await OutboxRelay(MongoOutbox(mongodb, "things"), redis, stream).relay_pending()

    published = await read_events(redis, stream)
    assert [e.id for e in published] == [event.id, event.id]  # consumers dedupe by id
    assert await database.things.find_one({"_id": "t1"}) == {"_id": "t1", "outbox": []}


async def test_events_keep_their_content_through_the_outbox(
    database: Database, mongodb: MongoDB, redis: Redis
) -> None:
    stream = f"test.{uuid.uuid4().hex}"
    event = Event(
        "order.placed", {"total": {"amount": 1299, "currency": "USD"}}, "orders", traceparent="00-abc-01"
    )
    await database.things.insert_one({"_id": "t1", "outbox": [event.to_doc()], **outbox_flag()})
    await OutboxRelay(MongoOutbox(mongodb, "things"), redis, stream).relay_pending()
    [received] = await read_events(redis, stream)
    assert received == event


async def test_running_relay_publishes_notified_documents_and_sweeps_at_start(
    database: Database, mongodb: MongoDB, redis: Redis
) -> None:
    stream = f"test.{uuid.uuid4().hex}"
    # By a process that crashed before relaying.
    left_behind = Event("a.b", {"n": 1}, "test")
    await database.things.insert_one({"_id": "old", "outbox": [left_behind.to_doc()], **outbox_flag()})
    relay = OutboxRelay(MongoOutbox(mongodb, "things"), redis, stream, sweep_interval=3600)
    async with running(relay):
        fresh = Event("a.b", {"n": 2}, "test")
        await database.things.insert_one({"_id": "new", "outbox": [fresh.to_doc()], **outbox_flag()})
        relay.notify(Entries("new", [fresh.to_doc()]))
        for _ in range(200):
            emptied = await database.things.count_documents({"outbox.0": {"$exists": True}}) == 0
            if len(await read_events(redis, stream)) == 2 and emptied:
                break
            await asyncio.sleep(0.05)
    assert {event.id for event in await read_events(redis, stream)} == {left_behind.id, fresh.id}
    assert await database.things.count_documents({"outbox.0": {"$exists": True}}) == 0


async def test_the_sweep_reads_only_flagged_documents_and_clears_the_flag(
    database: Database, mongodb: MongoDB, redis: Redis
) -> None:
    stream = f"test.{uuid.uuid4().hex}"
    flagged, unflagged = Event("a.b", {"n": 1}, "test"), Event("a.b", {"n": 2}, "test")
    await database.things.insert_one({"_id": "flagged", "outbox": [flagged.to_doc()], **outbox_flag()})
    # Every write that pushes events sets the flag; a document without it is never swept.
    await database.things.insert_one({"_id": "unflagged", "outbox": [unflagged.to_doc()]})
    relay = OutboxRelay(MongoOutbox(mongodb, "things"), redis, stream)

    assert await relay.relay_pending() == 1
    assert [event.id for event in await read_events(redis, stream)] == [flagged.id]
    assert await relay.relay_pending() == 0
    assert await database.things.find_one({"_id": "flagged"}) == {"_id": "flagged", "outbox": []}


async def test_a_backlog_larger_than_a_batch_is_swept_with_one_query(
    database: Database, mongodb: MongoDB, redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One query names every flagged document, however many batches they make: a query per
    batch reads the whole backlog each time on FerretDB (no limit pushdown with a filter)."""
    stream = f"test.{uuid.uuid4().hex}"
    events = [Event("a.b", {"n": n}, "test") for n in range(250)]
    await database.things.insert_many(
        [{"_id": f"t{n}", "outbox": [event.to_doc()], **outbox_flag()} for n, event in enumerate(events)]
    )
    sweeps: list[object] = []
    find = AsyncCollection.find

    def counting_find(self: AsyncCollection[Document], *args: Any, **kwargs: Any) -> Any:
        if args and args[0] == outbox_flag():
            sweeps.append(args[0])
        return find(self, *args, **kwargs)

    monkeypatch.setattr(AsyncCollection, "find", counting_find)
    relay = OutboxRelay(MongoOutbox(mongodb, "things"), redis, stream, batch=100)

    assert await relay.relay_pending() == 250
    assert len(sweeps) == 1
    assert {event.id for event in await read_events(redis, stream)} == {event.id for event in events}
    assert await database.things.count_documents(outbox_flag()) == 0


async def test_an_entry_that_is_not_an_event_is_dead_lettered_and_the_rest_published(
    database: Database, mongodb: MongoDB, redis: Redis
) -> None:
    stream = f"test.{uuid.uuid4().hex}"
    good = Event("a.b", {"n": 1}, "test")
    poison = {"type": "a.b", "data": {"n": 2}}  # no id, version, producer...
    await database.things.insert_one({"_id": "t1", "outbox": [poison, good.to_doc()], **outbox_flag()})

    relay = OutboxRelay(MongoOutbox(mongodb, "things"), redis, stream)
    assert await relay.relay_pending() == 2

    assert [event.id for event in await read_events(redis, stream)] == [good.id]
    entries: list[tuple[str, dict[str, str]]] = await redis.xrange(f"{stream}.dead.outbox")  # type: ignore[assignment]
    [(_, dead)] = entries
    assert dead["document_id"] == "t1"
    assert "unreadable outbox entry" in dead["reason"]
    assert json.loads(dead["entry"]) == poison
    assert await database.things.find_one({"_id": "t1"}) == {"_id": "t1", "outbox": []}


class HeldRemovals:
    """An outbox kept in one list, read whole as delivery's is, whose removals wait until released."""

    def __init__(self) -> None:
        self.stored: list[str] = []
        self.released = asyncio.Event()
        self.swept = asyncio.Event()

    async def sweep(self, batch: int) -> AsyncIterator[list[Entries]]:
        if self.stored:
            yield [Entries("list", list(self.stored))]
        self.swept.set()

    async def remove(self, entries: Entries) -> None:
        await self.released.wait()
        for stored in entries.stored:
            self.stored.remove(stored)

    def decode(self, stored: Any) -> Event:
        return Event.from_json(stored)

    async def backlog(self, cap: int) -> int:
        return min(len(self.stored), cap)


async def test_a_pass_does_not_wait_for_the_last_ones_removals_nor_the_sweep_publish_again(
    redis: Redis,
) -> None:
    stream = f"test.{uuid.uuid4().hex}"
    outbox = HeldRemovals()
    relay = OutboxRelay(outbox, redis, stream)
    first, second = Event("a.b", {"n": 1}, "test"), Event("a.b", {"n": 2}, "test")

    async def published(count: int) -> None:
        for _ in range(100):
            if len(await read_events(redis, stream)) >= count:
                return
            await asyncio.sleep(0.02)
        raise AssertionError(f"fewer than {count} events published")

    async with running(relay):
        await asyncio.wait_for(outbox.swept.wait(), timeout=5)  # the sweep at start, of nothing
        outbox.stored.append(first.to_json())
        relay.notify(Entries("list", [first.to_json()]))
        await published(1)
        # The first event's removal waits; the second is published all the same, and the first,
        # handed over with it, is not published again.
        outbox.stored.append(second.to_json())
        relay.notify(Entries("list", [first.to_json(), second.to_json()]))
        await published(2)
        # A sweep meanwhile reads both, and publishes neither again.
        assert await relay.relay_pending() == 0
        await asyncio.sleep(0.1)
        assert [event.id for event in await read_events(redis, stream)] == [first.id, second.id]
        outbox.released.set()
        for _ in range(100):
            if not outbox.stored:
                break
            await asyncio.sleep(0.02)
    assert outbox.stored == []
    assert [event.id for event in await read_events(redis, stream)] == [first.id, second.id]


async def test_events_that_could_not_be_published_are_published_by_a_later_sweep(redis: Redis) -> None:
    stream = f"test.{uuid.uuid4().hex}"
    outbox = HeldRemovals()
    outbox.released.set()
    relay = OutboxRelay(outbox, redis, stream, sweep_interval=3600)
    swept, notified = Event("a.b", {"n": 1}, "test"), Event("a.b", {"n": 2}, "test")
    outbox.stored.append(swept.to_json())
    await redis.set(stream, "not a stream")  # every XADD to it fails
    with pytest.raises(RedisError):
        await relay.relay_pending()
    await redis.delete(stream)
    assert await relay.relay_pending() == 1

    async with running(relay):
        await asyncio.wait_for(outbox.swept.wait(), timeout=5)
        await redis.set(stream, "not a stream")
        outbox.stored.append(notified.to_json())
        relay.notify(Entries("list", [notified.to_json()]))
        await asyncio.sleep(0.3)  # the pass fails, and the relay pauses for a second
        await redis.delete(stream)
        for _ in range(100):
            if await redis.exists(stream) and not outbox.stored:
                break
            await asyncio.sleep(0.05)
    # (SET replaced the stream the first was published to.)
    assert [event.id for event in await read_events(redis, stream)] == [notified.id]
