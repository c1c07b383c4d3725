"""How many GraphQL requests a process works on at once (`GRAPHQL_CONCURRENCY`); the rest wait at the door.

Every request in flight competes for the same cores, the same store
connections and the same event loop as the service's event consumer and
outbox relay. Past a few at once, more in flight add no throughput on a small
machine: they only lengthen every queue inside, and the events wait in those
queues too. Measured with 32 shoppers placing and paying at once on 2 cores
(docs/performance.md, "Admission"): the lag from an order written to payments
knowing it fell by a third to a half at p99, for 4 to 11 % fewer orders per
second.

A request that waits for something other than its own work (an event,
another request, a card processor, another service, a hashing slot with its
own bound) steps aside meanwhile (`stepped_aside`), so that such waits never
keep the door shut for requests that could run.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass
class _Admitted:
    """One admitted request's hold on its slot (shared by the tasks the request starts)."""

    admission: "Admission"
    holds_slot: bool = True


_current: ContextVar[_Admitted | None] = ContextVar("shopgraph_admitted", default=None)


class Admission:
    """At most `limit` requests inside at once, admitted first come, first served."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("at least one request must be let in (GRAPHQL_CONCURRENCY >= 1)")
        self.limit = limit
        self._slots = asyncio.Semaphore(limit)

    @contextlib.asynccontextmanager
    async def admitted(self) -> AsyncIterator[None]:
        """Waits for a slot, holds it for the block (less the waits it steps aside for)."""
        await self._slots.acquire()
        admitted = _Admitted(self)
        token = _current.set(admitted)
        try:
            yield
        finally:
            _current.reset(token)
            if admitted.holds_slot:
                self._slots.release()

    def _step_out(self, admitted: _Admitted) -> None:
        admitted.holds_slot = False
        self._slots.release()

    async def _step_in(self, admitted: _Admitted) -> None:
        # Cancelled while queueing, the request holds nothing, and `admitted` releases nothing.
        await self._slots.acquire()
        admitted.holds_slot = True


@contextlib.asynccontextmanager
async def stepped_aside() -> AsyncIterator[None]:
    """Lets the next request in while this one waits on something other than work; the request
    takes a slot again (waiting its turn) after the block. Outside an admitted request, or when
    a task of the same request has stepped aside already, it changes nothing."""
    admitted = _current.get()
    if admitted is None or not admitted.holds_slot:
        yield
        return
    admitted.admission._step_out(admitted)
    try:
        yield
    finally:
        await admitted.admission._step_in(admitted)
