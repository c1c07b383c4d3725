"""Background work that lives as long as the app: outbox relays, consumers, maintenance."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine
from typing import Any


@contextlib.asynccontextmanager
async def background(workers: dict[str, Coroutine[Any, Any, None]]) -> AsyncIterator[None]:
    """Runs each named coroutine as a task; cancels them all and waits for them on exit.

    It cancels again while any task still runs: on Python 3.11, `asyncio.wait_for`
    (which redis-py wraps around socket I/O) can swallow a cancellation that
    arrives just as the I/O completes, and the task would then run on.
    """
    tasks = {asyncio.create_task(work, name=name) for name, work in workers.items()}
    try:
        yield
    finally:
        pending = tasks
        while pending:
            for task in pending:
                task.cancel()
            _, pending = await asyncio.wait(pending, timeout=0.5)
