"""Password hashing with argon2id, off the event loop.

Hashing is deliberately slow (tens to hundreds of milliseconds of CPU), so it
runs in a worker thread: other requests keep being served meanwhile.
"""

import asyncio

from argon2 import Parameters, PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError


class Passwords:
    def __init__(self, hasher: PasswordHasher) -> None:
        self._hasher = hasher
        self._decoy_hash: str | None = None

    @classmethod
    def from_profile(cls, name: str) -> "Passwords":
        """A hasher with the parameters of one of `argon2.profiles` (e.g. RFC_9106_LOW_MEMORY)."""
        parameters = getattr(profiles, name, None) if name.isupper() else None
        if not isinstance(parameters, Parameters):
            raise ValueError(f"{name!r} is not an argon2 profile (see argon2.profiles)")
        return cls(PasswordHasher.from_parameters(parameters))

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, password_hash: str, password: str) -> bool:
        return await asyncio.to_thread(self._verify, password_hash, password)

    async def verify_nothing(self, password: str) -> None:
        """Spends the time a real verification takes.

        Signing in with an unknown email must not answer measurably faster
        than with a known one, or response times would reveal who has an account.
        """
        if self._decoy_hash is None:
            self._decoy_hash = await self.hash("decoy password, matches nobody")
        await self.verify(self._decoy_hash, password)

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False
