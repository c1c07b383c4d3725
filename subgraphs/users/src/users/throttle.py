"""Sign-in throttling: failed sign-ins counted per account and per client address.

Each failed sign-in is one entry in two moving windows: the account's (its
normalised email) and the client address's. A sign-in is refused with
`RATE_LIMITED` and `extensions.retryAfterSeconds` while either window is full,
before any password is hashed, so a refused attempt costs no argon2 work. A
successful sign-in adds nothing to the address's window (many customers may sign
in from behind one address) and empties the account's. An account is locked in
the same way whether it exists or not, so a lockout tells nothing about who has
an account.

The windows are kept in Redis by the `limits` package (its moving window is a
Redis list per key, updated atomically by a Lua script), so every process of the
service counts the same failures. If Redis does not answer, sign-in stays open
and counts in this process instead (see `SignInThrottle`).

Keys carry a SHA-256 of the email, never the email itself; IPv6 clients are
counted by /64 network, since one host may freely use any address in its /64.
"""

import asyncio
import hashlib
import ipaddress
import logging
import math
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

from limits import RateLimitItem, RateLimitItemPerSecond, WindowStats
from limits.aio.storage import MemoryStorage, RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from prometheus_client import Counter as PrometheusCounter
from redis.asyncio import ConnectionPool
from redis.exceptions import RedisError

from shopkit.errors import RateLimited

log = logging.getLogger(__name__)

# After Redis fails to answer, count locally for this long before trying it again,
# so that an unreachable Redis does not add its timeouts to every sign-in.
REDIS_RETRY_SECONDS = 5.0
# Bounds each Redis call; sign-in never waits longer on a Redis that hangs.
REDIS_TIMEOUT_SECONDS = 1.0
TOO_MANY_FAILURES = "Too many failed sign-ins: try again later."

SIGN_INS = PrometheusCounter(
    "shopgraph_sign_ins",
    "Sign-in attempts by outcome (throttled: refused before the password was checked).",
    ["outcome"],
)

Result = TypeVar("Result")


@dataclass(frozen=True)
class SignInAttempt:
    """Whose failures an attempt counts as: its account's and its address's (None: not counted)."""

    account: str | None
    address: str | None

    @classmethod
    def of(cls, normalised_email: str | None, client_address: str | None) -> "SignInAttempt":
        account = None
        if normalised_email is not None:
            account = hashlib.sha256(normalised_email.encode()).hexdigest()
        return cls(account=account, address=None if client_address is None else address_key(client_address))


def address_key(client_address: str) -> str:
    """What failures are counted by: the IPv4 address, or the /64 of an IPv6 one."""
    try:
        address = ipaddress.ip_address(client_address)
    except ValueError:
        return client_address  # not an IP (e.g. a test client's name): as it is
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


class SignInThrottle:
    """The failure windows, in Redis, with this process's memory as a fallback.

    Fail open, not closed: if Redis does not answer, sign-ins are still
    served, and the windows are kept in this process's memory until Redis
    answers again (tried again every `REDIS_RETRY_SECONDS`). The limits then
    hold per process rather than across all of them, and the failures counted
    meanwhile are not carried over. Failing closed would turn a Redis outage
    into nobody being able to sign in; each process still bounds an attacker
    in the meantime, and the argon2 concurrency bound in `Passwords` holds
    regardless.

    A limit of 0 turns that window off.
    """

    def __init__(
        self,
        *,
        redis_url: str,
        max_failures_per_account: int,
        max_failures_per_address: int,
        window_seconds: int,
        key_prefix: str,
    ) -> None:
        self._account_limit = _limit(max_failures_per_account, window_seconds, "account")
        self._address_limit = _limit(max_failures_per_address, window_seconds, "address")
        self._pool = ConnectionPool.from_url(
            redis_url,
            decode_responses=True,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
        )
        shared = RedisStorage(
            f"async+{redis_url}",
            implementation="redispy",
            key_prefix=key_prefix,
            wrap_exceptions=True,
            connection_pool=self._pool,  # type: ignore[arg-type]  # passed on to redis.asyncio.Redis
        )
        self._shared = MovingWindowRateLimiter(shared)
        self._local = MovingWindowRateLimiter(MemoryStorage())
        self._shared_unreachable_until = 0.0
        self._in_flight: Counter[str] = Counter()

    async def check(self, attempt: SignInAttempt) -> bool:
        """Raises `RateLimited` if the account's or the address's window is full; else whether
        the attempt is suspect: its account or address has failures in its window."""
        windows = self._windows(attempt)
        stats = await asyncio.gather(*(self._stats(item, key) for item, key in windows))
        wait = max((_wait(window) for window in stats), default=0.0)
        if wait > 0:
            SIGN_INS.labels(outcome="throttled").inc()
            raise RateLimited(TOO_MANY_FAILURES, retryAfterSeconds=max(1, math.ceil(wait)))
        return any(window.remaining < item.amount for window, (item, _) in zip(stats, windows, strict=True))

    def busy(self, attempt: SignInAttempt) -> bool:
        """Whether another sign-in of the attempt's account or from its address is being checked
        in this process: the second and later of a burst are suspect from the start, before the
        first has failed (an attack's first wave), and a customer's is not slowed by them."""
        return any(self._in_flight[key] for key in _in_flight_keys(attempt))

    @contextmanager
    def in_flight(self, attempt: SignInAttempt) -> Iterator[None]:
        """Counts the attempt as being checked (`busy`) for the length of the block."""
        keys = _in_flight_keys(attempt)
        self._in_flight.update(keys)
        try:
            yield
        finally:
            self._in_flight.subtract(keys)
            for key in keys:
                if self._in_flight[key] <= 0:
                    del self._in_flight[key]

    async def record_failure(self, attempt: SignInAttempt) -> None:
        SIGN_INS.labels(outcome="failed").inc()
        await asyncio.gather(*(self._hit(item, key) for item, key in self._windows(attempt)))

    async def record_success(self, attempt: SignInAttempt) -> None:
        SIGN_INS.labels(outcome="succeeded").inc()
        if self._account_limit is not None and attempt.account is not None:
            item, key = self._account_limit, attempt.account
            await self._run(lambda limiter: limiter.clear(item, key))

    async def close(self) -> None:
        await self._pool.aclose()

    def _windows(self, attempt: SignInAttempt) -> list[tuple[RateLimitItem, str]]:
        windows = [(self._account_limit, attempt.account), (self._address_limit, attempt.address)]
        return [(item, key) for item, key in windows if item is not None and key is not None]

    async def _hit(self, item: RateLimitItem, key: str) -> None:
        await self._run(lambda limiter: limiter.hit(item, key))

    async def _stats(self, item: RateLimitItem, key: str) -> WindowStats:
        return await self._run(lambda limiter: limiter.get_window_stats(item, key))

    async def _run(self, operation: Callable[[MovingWindowRateLimiter], Awaitable[Result]]) -> Result:
        if time.monotonic() >= self._shared_unreachable_until:
            try:
                return await operation(self._shared)
            except (StorageError, RedisError, OSError) as error:
                self._shared_unreachable_until = time.monotonic() + REDIS_RETRY_SECONDS
                log.warning(
                    "sign-in throttling: Redis did not answer (%s); counting failures in this "
                    "process, trying Redis again in %.0f s",
                    error,
                    REDIS_RETRY_SECONDS,
                )
        return await operation(self._local)


def _in_flight_keys(attempt: SignInAttempt) -> list[str]:
    keys = [] if attempt.account is None else [f"account:{attempt.account}"]
    return keys if attempt.address is None else [*keys, f"address:{attempt.address}"]


def _wait(window: WindowStats) -> float:
    """Seconds until the window has room for one more failure (0 if it has now)."""
    if window.remaining > 0:
        return 0.0
    return max(window.reset_time - time.time(), 0.001)


def _limit(max_failures: int, window_seconds: int, what: str) -> RateLimitItem | None:
    if max_failures == 0:
        return None
    return RateLimitItemPerSecond(max_failures, window_seconds, namespace=what)
