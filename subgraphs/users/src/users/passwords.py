"""Password hashing with argon2id, off the event loop and a few at a time.

Hashing is deliberately slow (tens to hundreds of milliseconds of CPU), so it
runs in a worker thread: other requests keep being served meanwhile. At most
`concurrency` hashes or verifications run at once; the rest wait for a slot in
arrival order, so a flood of sign-ins cannot take more CPU than that, except
that a suspect sign-in (its account or address failed recently) waits until
nobody else does (users.slots). Sign-in holds its slot as a `turn` and checks
its limits inside it (users.rules), so requests that queued behind an attack
give up without hashing. A request
cancelled mid-hash keeps its slot until the thread is done (anyio does not
abandon the thread), so the bound holds for the CPU, not just for requests.

A suspect sign-in's verification also runs at the lowest CPU priority (Linux:
nice 19 on its own threads), so the OS gives a core to everything else first:
the event loop serving other requests, and legitimate sign-ins' hashes. An
attack then gets the CPU nobody else wants. Elsewhere it runs at the usual priority.
"""

import os
import sys
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

import anyio.to_thread
from argon2 import Parameters, PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError

from shopkit.admission import stepped_aside
from users.slots import HashingSlots

LOWEST_PRIORITY = 19  # the highest nice value


def _lower_this_threads_priority() -> None:
    if sys.platform == "linux":  # elsewhere PRIO_PROCESS of a thread id is not per thread
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), LOWEST_PRIORITY)


class LowPriorityThreads:
    """Worker threads the OS runs after every other thread of the machine that wants the CPU."""

    def __init__(self, count: int) -> None:
        self._executor = ThreadPoolExecutor(
            max_workers=count,
            thread_name_prefix="low-priority-hash",
            initializer=_lower_this_threads_priority,
        )

    def call(self, function: Callable[[str, str], bool], *args: str) -> bool:
        """Runs `function` on one of the threads and blocks until it returns."""
        return self._executor.submit(function, *args).result()


class HashingTurn:
    """One hashing slot, for the length of a `Passwords.turn()` block."""

    def __init__(
        self, hasher: PasswordHasher, decoy_hash: str, low_priority: LowPriorityThreads | None
    ) -> None:
        self._hasher = hasher
        self._decoy_hash = decoy_hash
        self._low_priority = low_priority

    async def verify(self, password_hash: str, password: str) -> bool:
        if self._low_priority is None:
            return await anyio.to_thread.run_sync(self._verify, password_hash, password)
        # anyio's thread only waits for the low-priority one: it keeps the slot held
        # until the hash is done, even when the request is cancelled.
        return await anyio.to_thread.run_sync(self._low_priority.call, self._verify, password_hash, password)

    async def verify_nothing(self, password: str) -> None:
        """Spends the time a real verification takes.

        Signing in with an unknown email must not answer measurably faster
        than with a known one, or response times would reveal who has an account.
        """
        await self.verify(self._decoy_hash, password)

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False


class Passwords:
    def __init__(self, hasher: PasswordHasher, *, concurrency: int = 1) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self._hasher = hasher
        self._slots = HashingSlots(concurrency)
        self._low_priority = LowPriorityThreads(self._slots.suspect_limit)
        self._decoy_hash: str | None = None

    @classmethod
    def from_profile(cls, name: str, *, concurrency: int = 1) -> "Passwords":
        """A hasher with the parameters of one of `argon2.profiles` (e.g. RFC_9106_LOW_MEMORY)."""
        parameters = getattr(profiles, name, None) if name.isupper() else None
        if not isinstance(parameters, Parameters):
            raise ValueError(f"{name!r} is not an argon2 profile (see argon2.profiles)")
        return cls(PasswordHasher.from_parameters(parameters), concurrency=concurrency)

    async def hash(self, password: str) -> str:
        # Hashing has its own bound, the slots: a request waiting for one or for its thread
        # lets other requests in meanwhile.
        async with stepped_aside(), self._slots.held():
            return await anyio.to_thread.run_sync(self._hasher.hash, password)

    async def verify(self, password_hash: str, password: str) -> bool:
        async with self.turn() as turn:
            return await turn.verify(password_hash, password)

    @asynccontextmanager
    async def turn(self, *, suspect: bool = False) -> AsyncIterator[HashingTurn]:
        """Waits for a hashing slot (after everyone else, if `suspect`) and holds it for the block."""
        if self._decoy_hash is None:
            # Made before taking the slot: making it takes one.
            self._decoy_hash = await self.hash("decoy password, matches nobody")
        async with stepped_aside(), self._slots.held(suspect=suspect):
            yield HashingTurn(self._hasher, self._decoy_hash, self._low_priority if suspect else None)

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)
