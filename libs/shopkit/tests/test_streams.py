import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import cast

import pytest
from redis.asyncio import Redis

from shopkit.events.envelope import Event
from shopkit.events.streams import RetryPolicy, StreamConsumer, dead_letter_stream, publish
from shopkit.redis_client import connect
from shopkit.testing import running

FAST = RetryPolicy(max_attempts=3, first_backoff=0.05, max_backoff=0.2, claim_idle=0.3)


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = connect(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
def stream() -> str:
    return f"test.{uuid.uuid4().hex}"


async def eventually(condition: Callable[[], Awaitable[bool]], attempts: int = 200) -> None:
    for _ in range(attempts):
        if await condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition never became true")


def an_event(n: int = 0) -> Event:
    return Event(type="thing.happened", data={"n": n}, producer="test")


async def test_handled_events_are_acknowledged(redis: Redis, stream: str) -> None:
    seen: list[Event] = []

    async def handler(event: Event) -> None:
        seen.append(event)

    consumer = StreamConsumer(redis, group="g", consumer="c1", streams=[stream], handler=handler, policy=FAST)
    sent = [an_event(n) for n in range(5)]
    async with running(consumer):
        for event in sent:
            await publish(redis, stream, event)

        async def all_seen() -> bool:
            return len(seen) == 5

        await eventually(all_seen)
        await asyncio.sleep(0.1)
    assert [event.id for event in seen] == [event.id for event in sent]
    assert (await redis.xpending(stream, "g"))["pending"] == 0


async def test_failed_handling_is_retried_until_it_succeeds(redis: Redis, stream: str) -> None:
    attempts: list[str] = []

    async def flaky(event: Event) -> None:
        attempts.append(event.id)
        if len(attempts) < 3:
            raise RuntimeError("transient")

    consumer = StreamConsumer(redis, group="g", consumer="c1", streams=[stream], handler=flaky, policy=FAST)
    async with running(consumer):
        await publish(redis, stream, an_event())

        async def acknowledged() -> bool:
            return len(attempts) == 3 and (await redis.xpending(stream, "g"))["pending"] == 0

        await eventually(acknowledged)


async def test_poison_event_goes_to_the_dead_letter_stream(redis: Redis, stream: str) -> None:
    async def always_fails(event: Event) -> None:
        raise RuntimeError("poison")

    consumer = StreamConsumer(
        redis, group="g", consumer="c1", streams=[stream], handler=always_fails, policy=FAST
    )
    async with running(consumer):
        event = an_event()
        await publish(redis, stream, event)

        async def dead_lettered() -> bool:
            return int(await redis.xlen(dead_letter_stream(stream, "g"))) == 1

        await eventually(dead_lettered)
    [(_, fields)] = cast(
        list[tuple[str, dict[str, str]]], await redis.xrange(dead_letter_stream(stream, "g"))
    )
    assert Event.from_json(fields["event"]).id == event.id
    assert fields["attempts"] == str(FAST.max_attempts)
    assert (await redis.xpending(stream, "g"))["pending"] == 0


async def test_unreadable_entry_is_dead_lettered_at_once(redis: Redis, stream: str) -> None:
    async def handler(event: Event) -> None:
        raise AssertionError("must not be called")

    consumer = StreamConsumer(redis, group="g", consumer="c1", streams=[stream], handler=handler, policy=FAST)
    async with running(consumer):
        await redis.xadd(stream, {"event": "{not json"})

        async def dead_lettered() -> bool:
            return int(await redis.xlen(dead_letter_stream(stream, "g"))) == 1

        await eventually(dead_lettered)


async def test_pending_events_of_a_dead_consumer_are_claimed(redis: Redis, stream: str) -> None:
    await redis.xgroup_create(stream, "g", id="0", mkstream=True)
    event = an_event()
    await publish(redis, stream, event)
    # A consumer that read the event and died before acknowledging it.
    await redis.xreadgroup("g", "dead-consumer", {stream: ">"}, count=1)

    seen: list[str] = []

    async def handler(received: Event) -> None:
        seen.append(received.id)

    survivor = StreamConsumer(redis, group="g", consumer="c2", streams=[stream], handler=handler, policy=FAST)
    async with running(survivor):

        async def claimed() -> bool:
            return seen == [event.id] and (await redis.xpending(stream, "g"))["pending"] == 0

        await eventually(claimed)


async def test_a_slow_order_holds_back_only_its_own_events(redis: Redis, stream: str) -> None:
    first_of_a_may_finish = asyncio.Event()
    handled: list[str] = []

    async def handler(event: Event) -> None:
        if event.data["step"] == "a1":
            await first_of_a_may_finish.wait()
        handled.append(event.data["step"])

    steps = [("A", "a1"), ("B", "b1"), ("A", "a2"), ("B", "b2")]
    for order_id, step in steps:
        await publish(redis, stream, Event("thing.happened", {"orderId": order_id, "step": step}, "test"))
    consumer = StreamConsumer(redis, group="g", consumer="c1", streams=[stream], handler=handler, policy=FAST)
    async with running(consumer):
        await eventually(lambda: _equal(handled, ["b1", "b2"]))
        first_of_a_may_finish.set()
        await eventually(lambda: _equal(handled, ["b1", "b2", "a1", "a2"]))


async def _equal(actual: list[str], expected: list[str]) -> bool:
    return actual == expected


async def test_an_event_read_while_another_is_handled_does_not_wait_for_it(redis: Redis, stream: str) -> None:
    slow_started, slow_may_finish = asyncio.Event(), asyncio.Event()
    handled: list[str] = []

    async def handler(event: Event) -> None:
        if event.data["step"] == "a1":
            slow_started.set()
            await slow_may_finish.wait()
        handled.append(event.data["step"])

    consumer = StreamConsumer(redis, group="g", consumer="c1", streams=[stream], handler=handler, policy=FAST)
    async with running(consumer):
        await publish(redis, stream, Event("thing.happened", {"orderId": "A", "step": "a1"}, "test"))
        await asyncio.wait_for(slow_started.wait(), timeout=5)
        # Published after the slow handler started, so in a read of its own.
        for order_id, step in [("A", "a2"), ("B", "b1")]:
            await publish(redis, stream, Event("thing.happened", {"orderId": order_id, "step": step}, "test"))
        await eventually(lambda: _equal(handled, ["b1"]))
        slow_may_finish.set()
        await eventually(lambda: _equal(handled, ["b1", "a1", "a2"]))
    assert (await redis.xpending(stream, "g"))["pending"] == 0


async def test_an_event_handled_for_longer_than_the_backoff_is_not_delivered_again(
    redis: Redis, stream: str
) -> None:
    calls: list[str] = []

    async def slow(event: Event) -> None:
        calls.append(event.id)
        await asyncio.sleep(6 * FAST.first_backoff)

    consumer = StreamConsumer(
        redis, group="g", consumer="c1", streams=[stream], handler=slow, policy=FAST, block_ms=20
    )
    event = an_event()
    async with running(consumer):
        await publish(redis, stream, event)

        async def acknowledged() -> bool:
            return bool(calls) and (await redis.xpending(stream, "g"))["pending"] == 0

        await eventually(acknowledged)
    assert calls == [event.id]


class HoldingHandler:
    """Holds every event until released, counting how many it holds at once."""

    def __init__(self) -> None:
        self.in_hand = 0
        self.most = 0
        self.released = asyncio.Event()

    async def __call__(self, event: Event) -> None:
        self.in_hand += 1
        self.most = max(self.most, self.in_hand)
        await self.released.wait()
        self.in_hand -= 1


async def release_and_drain(redis: Redis, stream: str, handler: HoldingHandler) -> None:
    """Lets the handler go on, then waits until every event is handled and acknowledged."""
    handler.released.set()

    async def all_acknowledged() -> bool:
        return (await redis.xpending(stream, "g"))["pending"] == 0 and handler.in_hand == 0

    await eventually(all_acknowledged)


async def test_no_more_than_a_batch_of_events_is_in_hand(redis: Redis, stream: str) -> None:
    handler = HoldingHandler()
    for n in range(10):
        await publish(redis, stream, Event("thing.happened", {"orderId": f"o{n}"}, "test"))
    consumer = StreamConsumer(
        redis, group="g", consumer="c1", streams=[stream], handler=handler, policy=FAST, batch=4, block_ms=20
    )
    async with running(consumer):

        async def a_batch_in_hand() -> bool:
            return handler.in_hand == 4

        await eventually(a_batch_in_hand)
        await asyncio.sleep(0.2)
        assert handler.most == 4
        await release_and_drain(redis, stream, handler)
    assert handler.most == 4


async def test_retries_fill_only_the_room_left_in_a_batch(redis: Redis, stream: str) -> None:
    await redis.xgroup_create(stream, "g", id="0", mkstream=True)
    for n in range(4):
        await publish(redis, stream, Event("thing.happened", {"orderId": f"old{n}"}, "test"))
    # A consumer that read these four and died before acknowledging them.
    await redis.xreadgroup("g", "dead-consumer", {stream: ">"}, count=4)
    # Three new ones leave room in the batch for one retry, not four.
    for n in range(3):
        await publish(redis, stream, Event("thing.happened", {"orderId": f"new{n}"}, "test"))
    handler = HoldingHandler()
    consumer = StreamConsumer(
        redis, group="g", consumer="c1", streams=[stream], handler=handler, policy=FAST, batch=4, block_ms=20
    )
    async with running(consumer):

        async def new_ones_in_hand() -> bool:
            return handler.in_hand >= 3

        await eventually(new_ones_in_hand)
        # Long enough for the dead consumer's entries to be claimable several times over.
        await asyncio.sleep(3 * FAST.claim_idle)
        assert handler.most == 4
        await release_and_drain(redis, stream, handler)
    assert handler.most == 4
