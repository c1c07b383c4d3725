import asyncio

from shopkit.tasks import background


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

    async with background({"ticker": ticker()}):
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

    async with background({"stubborn": stubborn()}):
        await asyncio.sleep(0.01)
    assert cancellations == 2
