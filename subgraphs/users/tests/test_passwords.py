"""Passwords: a suspect sign-in's verification runs at the lowest CPU priority, others' at the usual one."""

import os
import sys
import threading
from typing import Literal

from argon2 import PasswordHasher

from users.passwords import LOWEST_PRIORITY, Passwords


class PriorityNotingHasher(PasswordHasher):
    """argon2id with cheap parameters that notes the nice value of each verification's thread."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=64, parallelism=1)
        self.priorities: list[int] = []

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        self.priorities.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        return super().verify(hash, password)


async def test_only_suspect_verifications_run_at_the_lowest_priority() -> None:
    hasher = PriorityNotingHasher()
    passwords = Passwords(hasher, concurrency=2)
    stored = hasher.hash("the right password")
    usual = os.getpriority(os.PRIO_PROCESS, 0)

    async with passwords.turn() as turn:
        assert await turn.verify(stored, "the right password")
    async with passwords.turn(suspect=True) as turn:
        assert not await turn.verify(stored, "a guess")
        assert await turn.verify(stored, "the right password")
    async with passwords.turn() as turn:
        assert await turn.verify(stored, "the right password")

    lowest = LOWEST_PRIORITY if sys.platform == "linux" else usual
    assert usual < LOWEST_PRIORITY
    assert hasher.priorities == [usual, lowest, lowest, usual]
