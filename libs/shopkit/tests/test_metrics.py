"""/metrics: what the probes read from real Redis and MongoDB when it is scraped."""

import asyncio
import re
import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.routing import Route

from shopkit.events.envelope import Event
from shopkit.events.outbox import MongoOutbox, OutboxRelay, outbox_flag, outbox_push
from shopkit.events.stream_metrics import stream_readings
from shopkit.events.streams import dead_letter_stream, publish
from shopkit.health import health_routes
from shopkit.metrics import PROBES, Reading, metrics_endpoint
from shopkit.mongo import MongoDB, mongo_commands_sent
from shopkit.redis_client import connect as connect_redis
from shopkit.testing import running


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = connect_redis(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
async def mongodb(mongodb_uri: str, database_name: str) -> AsyncIterator[MongoDB]:
    mongodb = MongoDB(mongodb_uri, database_name, service="test")
    yield mongodb
    await mongodb.writes.client.drop_database(database_name)
    await mongodb.close()


@pytest.fixture
def stream() -> str:
    return f"test.{uuid.uuid4().hex}"


@pytest.fixture
def probe_keys() -> Iterator[list[str]]:
    """Keys a test registers probes under; unregistered after it."""
    keys: list[str] = []
    yield keys
    for key in keys:
        PROBES.register(key, _nothing)()


async def _nothing() -> list[Reading]:
    return []


async def scrape(*routes: Route) -> str:
    app = Starlette(routes=[Route("/metrics", metrics_endpoint), *routes])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        response = await client.get("/metrics")
    assert response.status_code == 200
    return response.text


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of the sample with exactly these labels, or None."""
    rendered = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    selector = f"{name}{{{rendered}}}" if labels else name
    match = re.search(rf"^{re.escape(selector)} (\S+)$", text, re.MULTILINE)
    return None if match is None else float(match[1])


async def test_stream_readings_tell_each_groups_lag_pending_and_dead_letters(
    redis: Redis, stream: str
) -> None:
    for n in range(5):
        await publish(redis, stream, Event("thing.happened", {"n": n}, "test"))
    await redis.xgroup_create(stream, "caught-up", id="0")
    await redis.xgroup_create(stream, "behind", id="0")
    await redis.xreadgroup("caught-up", "c", {stream: ">"})
    entries: list[tuple[str, dict[str, str]]] = await redis.xrange(stream)  # type: ignore[assignment]
    caught_up = [entry_id for entry_id, _ in entries]
    await redis.xack(stream, "caught-up", *caught_up)
    await redis.xreadgroup("behind", "c", {stream: ">"}, count=2)  # delivered, never acknowledged
    await redis.xadd(dead_letter_stream(stream, "behind"), {"reason": "test"})

    readings = {(r.name, r.labels["group"]): r.value for r in await stream_readings(redis, stream)}

    assert readings == {
        ("shopgraph_consumer_lag", "caught-up"): 0,
        ("shopgraph_consumer_pending", "caught-up"): 0,
        ("shopgraph_dead_letters", "caught-up"): 0,
        ("shopgraph_consumer_lag", "behind"): 3,
        ("shopgraph_consumer_pending", "behind"): 2,
        ("shopgraph_dead_letters", "behind"): 1,
        ("shopgraph_dead_letters", "outbox"): 0,
    }


async def test_a_stream_nobody_wrote_yet_has_no_groups(redis: Redis, stream: str) -> None:
    readings = await stream_readings(redis, stream)
    assert [(r.name, r.labels, r.value) for r in readings] == [
        ("shopgraph_dead_letters", {"stream": stream, "group": "outbox"}, 0.0)
    ]


async def test_metrics_show_probe_readings_and_leave_out_a_probe_that_fails_or_hangs(
    probe_keys: list[str],
) -> None:
    async def lagging() -> list[Reading]:
        return [Reading("shopgraph_consumer_lag", {"stream": "s", "group": "g"}, 3)]

    async def broken() -> list[Reading]:
        raise ConnectionError("store gone")

    async def hanging() -> list[Reading]:
        await asyncio.sleep(60)
        return [Reading("shopgraph_consumer_pending", {"stream": "s", "group": "g"}, 1)]

    for key, probe in {"lagging": lagging, "broken": broken, "hanging": hanging}.items():
        probe_keys.append(key)
        PROBES.register(key, probe)

    text = await scrape()

    assert sample(text, "shopgraph_consumer_lag", stream="s", group="g") == 3
    assert "shopgraph_consumer_pending{" not in text
    assert "# TYPE shopgraph_consumer_lag gauge" in text
    assert "# HELP shopgraph_events_handled_total" in text  # the process's own metrics come too


async def test_unregistering_leaves_a_probe_registered_since_under_the_same_key(
    probe_keys: list[str],
) -> None:
    async def first() -> list[Reading]:
        return [Reading("shopgraph_ready", {}, 0)]

    async def second() -> list[Reading]:
        return [Reading("shopgraph_ready", {}, 1)]

    probe_keys.append("replaced")
    unregister_first = PROBES.register("replaced", first)
    PROBES.register("replaced", second)
    unregister_first()

    assert sample(await scrape(), "shopgraph_ready") == 1


async def test_readiness_checks_are_on_metrics(probe_keys: list[str]) -> None:
    async def passing() -> bool:
        return True

    async def failing() -> bool:
        return False

    probe_keys.append("readiness")
    routes = health_routes({"redis": passing, "worker:relay": failing})

    text = await scrape(*routes)

    assert sample(text, "shopgraph_ready") == 0
    assert sample(text, "shopgraph_readiness_check", check="redis") == 1
    assert sample(text, "shopgraph_readiness_check", check="worker:relay") == 0


async def test_a_running_relay_reports_its_backlog_and_its_streams_groups_without_counting_store_work(
    mongodb: MongoDB, redis: Redis, stream: str
) -> None:
    outbox = MongoOutbox(mongodb, "things")
    relay = OutboxRelay(outbox, redis, stream, sweep_interval=3600)
    await redis.xgroup_create(stream, "consumer", id="0", mkstream=True)
    async with running(relay):
        text = await scrape()
        for _ in range(100):  # until the relay has started
            if sample(text, "shopgraph_outbox_backlog", stream=stream) is not None:
                break
            await asyncio.sleep(0.05)
            text = await scrape()
        assert sample(text, "shopgraph_outbox_backlog", stream=stream) == 0
        assert sample(text, "shopgraph_consumer_lag", stream=stream, group="consumer") == 0

        # A write the relay was not told about waits in the outbox until a sweep.
        event = Event("thing.happened", {"n": 1}, "test")
        await mongodb.writes.things.insert_one({"_id": "t1", "outbox": [event.to_doc()], **outbox_flag()})
        await mongodb.writes.things.update_one(
            {"_id": "t1"}, {"$push": outbox_push(Event("thing.happened", {"n": 2}, "test"))}
        )
        commands_before = mongo_commands_sent()
        text = await scrape()
        assert sample(text, "shopgraph_outbox_backlog", stream=stream) == 1  # one document
        assert mongo_commands_sent() == commands_before

        assert await relay.relay_pending() == 2
        text = await scrape()
        assert sample(text, "shopgraph_outbox_backlog", stream=stream) == 0
        assert sample(text, "shopgraph_consumer_lag", stream=stream, group="consumer") == 2
        assert (sample(text, "shopgraph_events_published_total", stream=stream) or 0) == 2

    text = await scrape()  # a relay that stopped reports nothing more
    assert sample(text, "shopgraph_outbox_backlog", stream=stream) is None
    assert sample(text, "shopgraph_consumer_lag", stream=stream, group="consumer") is None
