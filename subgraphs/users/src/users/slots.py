"""Hashing slots: a semaphore whose waiters are served in arrival order, the suspect ones last
and never in every slot.

A sign-in whose account or client address has failed recently, or has another
sign-in being checked, is *suspect* (users.throttle). Its turn at argon2 comes
only when no other sign-in is waiting, and suspect sign-ins hold at most all
slots but one (one, with a single slot). So a brute force or a password spray
queues behind everybody else, and a legitimate sign-in finds a slot free or
about to be: it waits for the hashes already running at most, never for an
attacker's queue. The attack still gets what is left over, bounded by the
failure windows.
"""

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class HashingSlots:
    def __init__(self, count: int) -> None:
        if count < 1:
            raise ValueError("there must be at least one slot")
        self._free = count
        self.suspect_limit = max(1, count - 1)  # slots suspect sign-ins may hold at once
        self._suspects_holding = 0
        self._first: deque[asyncio.Future[None]] = deque()
        self._last: deque[asyncio.Future[None]] = deque()

    @asynccontextmanager
    async def held(self, *, suspect: bool = False) -> AsyncIterator[None]:
        """Waits for a slot (after every waiting non-suspect, if `suspect`) and holds it for the block."""
        await self._acquire(suspect)
        try:
            yield
        finally:
            self._release(suspect)

    def _may_take(self, suspect: bool) -> bool:
        return not suspect or self._suspects_holding < self.suspect_limit

    async def _acquire(self, suspect: bool) -> None:
        # A free slot means nobody it could go to waits: a released slot goes straight on.
        if self._free > 0 and self._may_take(suspect):
            self._take(suspect)
            return
        handed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue = self._last if suspect else self._first
        queue.append(handed)
        try:
            await handed
        except asyncio.CancelledError:
            if handed.done() and not handed.cancelled():
                self._release(suspect)  # the slot came as we were cancelled: pass it on
            elif handed in queue:
                queue.remove(handed)
            raise

    def _take(self, suspect: bool) -> None:
        self._free -= 1
        if suspect:
            self._suspects_holding += 1

    def _release(self, suspect: bool) -> None:
        self._free += 1
        if suspect:
            self._suspects_holding -= 1
        for queue, queue_is_suspect in ((self._first, False), (self._last, True)):
            while queue and self._may_take(queue_is_suspect):
                handed = queue.popleft()
                if not handed.done():
                    self._take(queue_is_suspect)
                    handed.set_result(None)
                    return
