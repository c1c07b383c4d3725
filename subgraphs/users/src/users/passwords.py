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
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from argon2 import Parameters, PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError

from users.slots import HashingSlots


class HashingTurn:
    """One hashing slot, for the length of a `Passwords.turn()` block."""

    def __init__(self, hasher: PasswordHasher, decoy_hash: str) -> None:
        self._hasher = hasher
        self._decoy_hash = decoy_hash

    async def verify(self, password_hash: str, password: str) -> bool:
        return await anyio.to_thread.run_sync(self._verify, password_hash, password)

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
        self._decoy_hash: str | None = None

    @classmethod
    def from_profile(cls, name: str, *, concurrency: int = 1) -> "Passwords":
        """A hasher with the parameters of one of `argon2.profiles` (e.g. RFC_9106_LOW_MEMORY)."""
        parameters = getattr(profiles, name, None) if name.isupper() else None
        if not isinstance(parameters, Parameters):
            raise ValueError(f"{name!r} is not an argon2 profile (see argon2.profiles)")
        return cls(PasswordHasher.from_parameters(parameters), concurrency=concurrency)

    async def hash(self, password: str) -> str:
        async with self._slots.held():
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
        async with self._slots.held(suspect=suspect):
            yield HashingTurn(self._hasher, self._decoy_hash)

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)
