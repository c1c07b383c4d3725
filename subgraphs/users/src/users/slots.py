"""Hashing slots: a semaphore whose waiters are served in arrival order, the suspect ones last.

A sign-in whose account or client address has failed recently is *suspect*
(users.throttle). Its turn at argon2 comes only when no other sign-in is
waiting, so a brute force or a password spray queues behind everybody else
instead of in front of them: a legitimate sign-in waits for the hashes already
running, never for an attacker's queue. The attack still gets what is left over,
bounded by the failure windows.
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
        self._first: deque[asyncio.Future[None]] = deque()
        self._last: deque[asyncio.Future[None]] = deque()

    @asynccontextmanager
    async def held(self, *, suspect: bool = False) -> AsyncIterator[None]:
        """Waits for a slot (after every waiting non-suspect, if `suspect`) and holds it for the block."""
        await self._acquire(self._last if suspect else self._first)
        try:
            yield
        finally:
            self._release()

    async def _acquire(self, queue: deque[asyncio.Future[None]]) -> None:
        # A free slot means nobody waits: a released slot goes straight to the next waiter.
        if self._free > 0:
            self._free -= 1
            return
        handed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue.append(handed)
        try:
            await handed
        except asyncio.CancelledError:
            if handed.done() and not handed.cancelled():
                self._release()  # the slot came as we were cancelled: pass it on
            elif handed in queue:
                queue.remove(handed)
            raise

    def _release(self) -> None:
        for queue in (self._first, self._last):
            while queue:
                handed = queue.popleft()
                if not handed.done():
                    handed.set_result(None)
                    return
        self._free += 1
