"""Background work that lives as long as the app, supervised: outbox relays, consumers, maintenance.

A worker that raises is logged with its exception and started again after a
backoff that doubles up to a cap, as an orchestrator restarts a crashed
container. While one has been down longer than `down_bound`, readiness says
so by its name (`Supervisor.readiness`), so a service whose events have
stopped is not "ready".
"""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter, Gauge

from shopkit.health import ReadinessCheck

log = logging.getLogger(__name__)

Worker = Callable[[], Coroutine[Any, Any, None]]

WORKER_UP = Gauge("shopgraph_worker_up", "1 while a background worker runs, 0 while it is down.", ["worker"])
WORKER_RESTARTS = Counter(
    "shopgraph_worker_restarts", "Times a background worker was started again after it failed.", ["worker"]
)


@dataclass(frozen=True)
class Backoff:
    first: float = 0.5
    cap: float = 30.0
    # A worker that has run this long since its last start counts as recovered.
    stable_after: float = 10.0

    def delay(self, failures: int) -> float:
        return float(min(self.first * 2 ** max(failures - 1, 0), self.cap))


class _WorkerState:
    def __init__(self) -> None:
        self.down_since: float | None = None
        self.failures = 0


class Supervisor:
    def __init__(
        self, workers: dict[str, Worker], *, backoff: Backoff | None = None, down_bound: float = 10.0
    ) -> None:
        self._workers = workers
        self._backoff = backoff or Backoff()
        self._down_bound = down_bound
        self._states = {name: _WorkerState() for name in workers}

    @property
    def readiness(self) -> dict[str, ReadinessCheck]:
        """One readiness check per worker: false while it has been down longer than the bound."""
        return {f"worker:{name}": self._check(name) for name in self._workers}

    def _check(self, name: str) -> ReadinessCheck:
        async def up() -> bool:
            down_since = self._states[name].down_since
            return down_since is None or asyncio.get_running_loop().time() - down_since <= self._down_bound

        return up

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Runs every worker under supervision; cancels them all and waits for them on exit.

        It cancels again while any task still runs: on Python 3.11, `asyncio.wait_for`
        (which redis-py wraps around socket I/O) can swallow a cancellation that
        arrives just as the I/O completes, and the task would then run on.
        """
        tasks = {
            asyncio.create_task(self._supervise(name, work), name=name)
            for name, work in self._workers.items()
        }
        try:
            yield
        finally:
            pending = tasks
            while pending:
                for task in pending:
                    task.cancel()
                _, pending = await asyncio.wait(pending, timeout=0.5)

    async def _supervise(self, name: str, work: Worker) -> None:
        state = self._states[name]
        loop = asyncio.get_running_loop()
        while True:
            WORKER_UP.labels(worker=name).set(1)
            try:
                await work()
                error: BaseException | None = None
            except asyncio.CancelledError:
                raise
            except Exception as failure:  # noqa: BLE001 - any failure of a worker is logged and restarted
                error = failure
            WORKER_UP.labels(worker=name).set(0)
            state.failures += 1
            if state.down_since is None:
                state.down_since = loop.time()
            delay = self._backoff.delay(state.failures)
            if error is None:
                log.error("background worker %s returned; starting it again in %.1fs", name, delay)
            else:
                log.error(
                    "background worker %s failed; starting it again in %.1fs", name, delay, exc_info=error
                )
            await asyncio.sleep(delay)
            WORKER_RESTARTS.labels(worker=name).inc()
            # Up again, as far as readiness and the backoff go, once it has run stable_after seconds.
            loop.call_later(self._backoff.stable_after, self._recovered, name, state.failures)

    def _recovered(self, name: str, failures_then: int) -> None:
        state = self._states[name]
        if state.failures == failures_then:  # no failure since that restart
            state.failures = 0
            state.down_since = None
