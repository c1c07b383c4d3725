"""The outbox: every change that pushed an event tells the relay itself, and shopkit's
relay drains `delivery:outbox` in order, dead-lettering what is not an event."""

import json
import uuid
from datetime import UTC, datetime

from redis.asyncio import Redis

from delivery.events import STREAM, EventHandlers, delivery_status_changed
from delivery.rules import DeliveryStatus
from delivery.store import OUTBOX_KEY, DeliveryOutbox, DeliveryStore
from shopkit.events.envelope import Event
from shopkit.events.outbox import Entries, OutboxRelay
from shopkit.events.streams import read_events

from .conftest import order_cancelled, order_delivery, payment_captured


async def test_each_change_that_pushed_an_event_notifies_the_relay(store_redis: Redis) -> None:
    notified: list[Entries] = []
    store = DeliveryStore(store_redis, outbox_written=notified.append)
    handlers = EventHandlers(store)
    order_id, customer_id = uuid.uuid4().hex, uuid.uuid4().hex
    captured = payment_captured(order_id, customer_id)

    await handlers.handle(captured)
    assert len(notified) == 1
    await handlers.handle(captured)  # a redelivery writes nothing, so tells nothing
    assert len(notified) == 1

    record = await order_delivery(store, order_id)
    assert record is not None
    await store.change_status(
        record.id,
        DeliveryStatus.IN_TRANSIT,
        note=None,
        at=datetime.now(UTC),
        event_for=lambda change: delivery_status_changed(change, None),
    )
    assert len(notified) == 2
    await handlers.handle(order_cancelled(order_id, customer_id))  # too late to cancel: no event
    assert len(notified) == 2
    # The relay is handed each change's entry exactly as the list holds it.
    in_the_list = await store_redis.lrange(OUTBOX_KEY, 0, -1)
    assert notified == [Entries(OUTBOX_KEY, [in_the_list[0]]), Entries(OUTBOX_KEY, [in_the_list[1]])]


async def test_the_relay_publishes_the_list_in_order_and_empties_it(
    store_redis: Redis, events_redis: Redis
) -> None:
    first, second = Event("a.b", {"n": 1}, "delivery"), Event("a.b", {"n": 2}, "delivery")
    await store_redis.rpush(OUTBOX_KEY, first.to_json(), second.to_json())
    relay = OutboxRelay(DeliveryOutbox(store_redis), events_redis, STREAM)

    assert await relay.relay_pending() == 2
    assert await relay.relay_pending() == 0

    assert [event.id for event in await read_events(events_redis, STREAM)] == [first.id, second.id]
    assert await store_redis.llen(OUTBOX_KEY) == 0


async def test_an_entry_that_is_not_an_event_is_dead_lettered_and_the_rest_published(
    store_redis: Redis, events_redis: Redis
) -> None:
    good = Event("a.b", {"n": 1}, "delivery")
    await store_redis.rpush(OUTBOX_KEY, "not json", good.to_json())
    relay = OutboxRelay(DeliveryOutbox(store_redis), events_redis, STREAM)

    assert await relay.relay_pending() == 2

    assert [event.id for event in await read_events(events_redis, STREAM)] == [good.id]
    entries: list[tuple[str, dict[str, str]]] = await events_redis.xrange(f"{STREAM}.dead.outbox")  # type: ignore[assignment]
    [(_, dead)] = entries
    assert dead["document_id"] == OUTBOX_KEY
    assert json.loads(dead["entry"]) == "not json"
    assert await store_redis.llen(OUTBOX_KEY) == 0


async def test_the_backlog_is_the_lists_length_up_to_the_cap(store_redis: Redis) -> None:
    outbox = DeliveryOutbox(store_redis)
    assert await outbox.backlog(cap=2) == 0
    events = [Event("a.b", {"n": n}, "delivery").to_json() for n in range(3)]
    await store_redis.rpush(OUTBOX_KEY, *events)

    assert await outbox.backlog(cap=10) == 3
    assert await outbox.backlog(cap=2) == 2
