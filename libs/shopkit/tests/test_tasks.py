import asyncio
import logging

import pytest

from shopkit.tasks import Backoff, Supervisor

QUICK = Backoff(first=0.01, cap=0.05, stable_after=0.2)


async def test_workers_run_while_open_and_are_cancelled_on_exit() -> None:
    ticks: list[int] = []
    stopped = asyncio.Event()

    async def ticker() -> None:
        try:
            while True:
                ticks.append(1)
                await asyncio.sleep(0.01)
        finally:
            stopped.set()

    async with Supervisor({"ticker": ticker}).running():
        await asyncio.sleep(0.1)
    assert ticks
    assert stopped.is_set()


async def test_a_worker_that_swallows_one_cancellation_is_cancelled_again() -> None:
    cancellations = 0

    async def stubborn() -> None:
        nonlocal cancellations
        while True:
            try:
                await asyncio.sleep(1)
            except asyncio.CancelledError:
                cancellations += 1
                if cancellations == 1:
                    continue  # what a swallowed cancellation looks like to the loop
                raise

    async with Supervisor({"stubborn": stubborn}).running():
        await asyncio.sleep(0.01)
    assert cancellations == 2


async def test_a_failed_worker_is_logged_and_started_again(caplog: pytest.LogCaptureFixture) -> None:
    starts = 0

    async def flaky() -> None:
        nonlocal starts
        starts += 1
        if starts <= 2:
            raise ValueError(f"poisoned #{starts}")
        await asyncio.Event().wait()

    with caplog.at_level(logging.ERROR, logger="shopkit.tasks"):
        async with Supervisor({"flaky": flaky}, backoff=QUICK).running():
            for _ in range(100):
                if starts == 3:
                    break
                await asyncio.sleep(0.01)
    assert starts == 3
    failures = [
        record for record in caplog.records if "background worker flaky failed" in record.getMessage()
    ]
    assert [str(record.exc_info[1]) for record in failures if record.exc_info] == [
        "poisoned #1",
        "poisoned #2",
    ]


async def test_readiness_names_a_worker_down_past_the_bound_and_recovers() -> None:
    healthy = asyncio.Event()

    async def broken_until_healed() -> None:
        if not healthy.is_set():
            raise RuntimeError("store unreadable")
        await asyncio.Event().wait()

    supervisor = Supervisor({"relay": broken_until_healed}, backoff=QUICK, down_bound=0.1)
    check = supervisor.readiness["worker:relay"]
    async with supervisor.running():
        assert await check()  # down, but not yet for longer than the bound
        await asyncio.sleep(0.3)
        assert not await check()
        healthy.set()
        await asyncio.sleep(QUICK.cap + QUICK.stable_after + 0.1)
        assert await check()
