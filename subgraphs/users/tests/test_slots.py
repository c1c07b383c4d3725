"""HashingSlots: arrival order, suspect waiters last, and a cancelled waiter takes nothing."""

import asyncio

import pytest

from users.slots import HashingSlots


async def served_in_order(slots: HashingSlots, waiters: list[tuple[str, bool]]) -> list[str]:
    """Who got a slot in which order, for waiters (name, suspect) arriving one after another
    while every slot is taken."""
    served: list[str] = []
    release = asyncio.Event()

    async def occupy() -> None:
        async with slots.held():
            await release.wait()

    async def wait_for_slot(name: str, suspect: bool) -> None:
        async with slots.held(suspect=suspect):
            served.append(name)

    occupant = asyncio.create_task(occupy())
    await asyncio.sleep(0)
    tasks = []
    for name, suspect in waiters:
        tasks.append(asyncio.create_task(wait_for_slot(name, suspect)))
        await asyncio.sleep(0)  # each one queued before the next arrives
    release.set()
    await asyncio.gather(occupant, *tasks)
    return served


async def test_waiters_are_served_in_arrival_order_and_the_suspect_ones_last() -> None:
    waiters = [("spray-1", True), ("ann", False), ("spray-2", True), ("bob", False), ("carol", False)]

    served = await served_in_order(HashingSlots(1), waiters)

    assert served == ["ann", "bob", "carol", "spray-1", "spray-2"]


async def test_a_free_slot_is_taken_at_once() -> None:
    slots = HashingSlots(2)
    async with asyncio.timeout(1), slots.held(suspect=True), slots.held():
        pass


async def test_suspect_holders_leave_one_slot_for_everyone_else() -> None:
    slots = HashingSlots(2)
    release = asyncio.Event()
    second_suspect_in = asyncio.Event()

    async def suspect(entered: asyncio.Event | None = None) -> None:
        async with slots.held(suspect=True):
            if entered is not None:
                entered.set()
            await release.wait()

    first = asyncio.create_task(suspect())
    await asyncio.sleep(0)
    second = asyncio.create_task(suspect(second_suspect_in))
    await asyncio.sleep(0)

    # One slot is free, but not for the second suspect: a customer gets it at once.
    assert not second_suspect_in.is_set()
    async with asyncio.timeout(1), slots.held():
        assert not second_suspect_in.is_set()
    release.set()
    await asyncio.gather(first, second)
    assert second_suspect_in.is_set()


async def test_a_cancelled_waiter_leaves_its_place_and_takes_no_slot() -> None:
    slots = HashingSlots(1)
    release = asyncio.Event()

    async def occupy() -> None:
        async with slots.held():
            await release.wait()

    occupant = asyncio.create_task(occupy())
    await asyncio.sleep(0)
    cancelled = asyncio.create_task(slots.held().__aenter__())
    await asyncio.sleep(0)
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    release.set()
    await occupant

    # The one slot is free again: two holders in turn get it without waiting.
    for _ in range(2):
        async with asyncio.timeout(1):
            async with slots.held():
                pass


def test_there_is_at_least_one_slot() -> None:
    with pytest.raises(ValueError, match="at least one slot"):
        HashingSlots(0)
