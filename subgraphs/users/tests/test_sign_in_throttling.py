"""Sign-in throttling (issue 12): failed sign-ins limited per account and per client address.

Every app here counts in the session's real redis-server (each test under its
own key prefix, see conftest). Requests come from the peer address the test
client gives, as they would from the router or a proxy.
"""

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import pytest
from argon2 import PasswordHasher
from support import PASSWORD, GraphQLClient, client_of, error_codes, running_app, started_app

from shopkit.testing import free_port
from users.config import Settings
from users.throttle import SignInAttempt, SignInThrottle, address_key

WRONG = "wrong password"
ATTACKER = "203.0.113.7"
SOMEONE_ELSE = "198.51.100.2"


@asynccontextmanager
async def graph(settings: Settings, client_address: str = "127.0.0.1") -> AsyncIterator[GraphQLClient]:
    """The app started, and a client to it from this address."""
    async with running_app(settings, client_address) as http:
        yield GraphQLClient(http)


@asynccontextmanager
async def clients(settings: Settings, *addresses: str) -> AsyncIterator[list[GraphQLClient]]:
    """The app started, and one client to it from each of these addresses."""
    async with started_app(settings) as app, AsyncExitStack() as stack:
        yield [GraphQLClient(await stack.enter_async_context(client_of(app, a))) for a in addresses]


@pytest.fixture
def verifications(monkeypatch: pytest.MonkeyPatch) -> Callable[[], int]:
    """How many argon2 verifications this process has run since the test started."""
    count = 0
    verify = PasswordHasher.verify

    def counting(self: PasswordHasher, password_hash: str, password: str) -> bool:
        nonlocal count
        count += 1
        return verify(self, password_hash, password)

    monkeypatch.setattr(PasswordHasher, "verify", counting)
    return lambda: count


def retry_after(body: dict[str, Any]) -> int:
    assert body["data"] is None, body
    assert error_codes(body) == ["RATE_LIMITED"], body
    error = body["errors"][0]
    assert error["message"] == "Too many failed sign-ins: try again later."
    seconds = error["extensions"]["retryAfterSeconds"]
    assert isinstance(seconds, int)
    assert seconds >= 1
    return seconds


def refused(body: dict[str, Any]) -> bool:
    return error_codes(body) == ["UNAUTHENTICATED"]


def signed_in(body: dict[str, Any]) -> bool:
    return "errors" not in body and bool(body["data"]["login"]["token"])


async def test_brute_force_locks_the_account_even_for_the_right_password_until_the_window_passes(
    settings: Settings,
) -> None:
    settings = settings.model_copy(
        update={"login_max_failures_per_account": 3, "login_failure_window_seconds": 3}
    )
    async with graph(settings, ATTACKER) as graphql:
        await graphql.register("ann@example.com")
        for _ in range(3):
            assert refused(await graphql.login("ann@example.com", WRONG))

        locked = await graphql.login("ann@example.com", PASSWORD)
        wait = retry_after(locked)
        assert wait <= 3
        # Any spelling of the email is the same account.
        retry_after(await graphql.login("  ANN@Example.com ", PASSWORD))

        # The hint is honest: once it has passed, the oldest failure has left the window.
        await asyncio.sleep(wait + 0.05)
        assert signed_in(await graphql.login("ann@example.com", PASSWORD))


async def test_a_throttled_attempt_costs_no_password_hashing(
    settings: Settings, verifications: Callable[[], int]
) -> None:
    # One hashing slot: attempts take turns, so the count below is exact.
    settings = settings.model_copy(
        update={"login_max_failures_per_account": 3, "password_hash_concurrency": 1}
    )
    async with graph(settings, ATTACKER) as graphql:
        await graphql.register("bob@example.com")
        before = verifications()
        # A burst all at once: every attempt passes the first check before any
        # failure is counted, and must be stopped by the second, in its turn.
        bodies = await asyncio.gather(*(graphql.login("bob@example.com", WRONG) for _ in range(30)))

    assert sum(refused(body) for body in bodies) == 3
    assert [error_codes(body) for body in bodies].count(["RATE_LIMITED"]) == 27
    assert verifications() - before == 3


async def test_an_unknown_email_is_locked_like_a_known_one(settings: Settings) -> None:
    settings = settings.model_copy(update={"login_max_failures_per_account": 2})
    async with graph(settings, ATTACKER) as graphql:
        await graphql.register("carol@example.com")
        for email in ("carol@example.com", "nobody@example.com"):
            for _ in range(2):
                assert refused(await graphql.login(email, WRONG))
        known = await graphql.login("carol@example.com", PASSWORD)
        unknown = await graphql.login("nobody@example.com", PASSWORD)
    retry_after(known)
    retry_after(unknown)
    assert known["errors"][0]["message"] == unknown["errors"][0]["message"]


async def test_spraying_many_accounts_from_one_address_locks_the_address(settings: Settings) -> None:
    settings = settings.model_copy(
        update={"login_max_failures_per_account": 100, "login_max_failures_per_address": 5}
    )
    async with clients(settings, "127.0.0.1", ATTACKER, SOMEONE_ELSE) as (registrar, attacker, someone_else):
        accounts = [await registrar.register(f"spray{n}@example.com") for n in range(7)]

        # One guess per account, as a password sprayer makes.
        for account in accounts[:5]:
            assert refused(await attacker.login(account.email, WRONG))
        # The address is spent: even a right password, for an account never tried, is refused.
        retry_after(await attacker.login(accounts[5].email, PASSWORD))
        retry_after(await attacker.login("never-registered@example.com", WRONG))
        # From elsewhere, those accounts still sign in.
        assert signed_in(await someone_else.login(accounts[5].email, PASSWORD))
        assert signed_in(await someone_else.login(accounts[0].email, PASSWORD))


async def test_a_request_that_names_no_client_counts_against_its_account_only(settings: Settings) -> None:
    # Straight from the router, with no proxy naming the client, the peer is the
    # router: counting by it would let one attacker lock every client out.
    settings = settings.model_copy(
        update={"login_max_failures_per_account": 100, "login_max_failures_per_address": 2}
    )
    async with started_app(settings) as app, client_of(app, "127.0.0.1", named=False) as http:
        router = GraphQLClient(http)
        accounts = [await router.register(f"unnamed{n}@example.com") for n in range(4)]
        for account in accounts[:3]:
            assert refused(await router.login(account.email, WRONG))
        assert signed_in(await router.login(accounts[3].email, PASSWORD))


async def test_invalid_emails_count_against_the_address(settings: Settings) -> None:
    settings = settings.model_copy(update={"login_max_failures_per_address": 3})
    async with graph(settings, ATTACKER) as graphql:
        account = await graphql.register("dave@example.com")
        for n in range(3):
            assert refused(await graphql.login(f"not an email {n}", WRONG))
        retry_after(await graphql.login(account.email, PASSWORD))


async def test_other_accounts_sign_in_while_one_is_attacked(settings: Settings) -> None:
    settings = settings.model_copy(
        update={
            "login_max_failures_per_account": 3,
            "login_max_failures_per_address": 0,  # only the account's limit in play
            "password_hash_concurrency": 1,
        }
    )
    async with clients(settings, SOMEONE_ELSE, ATTACKER) as (registrar, attacker):
        victim = await registrar.register("victim@example.com")
        bystanders = [await registrar.register(f"bystander{n}@example.com") for n in range(3)]

        attack = [attacker.login(victim.email, WRONG) for _ in range(40)]
        # The bystanders sign in from the attacker's address too (one office, one NAT).
        sign_ins = [attacker.login(bystander.email, PASSWORD) for bystander in bystanders]
        bodies = await asyncio.gather(*attack, *sign_ins)

        assert all(signed_in(body) for body in bodies[len(attack) :]), bodies[len(attack) :]
        assert sum(refused(body) for body in bodies[: len(attack)]) == 3
        retry_after(await registrar.login(victim.email, PASSWORD))
        assert signed_in(await registrar.login(bystanders[0].email, PASSWORD))


async def test_an_attempt_is_suspect_while_its_account_or_address_has_failures_or_is_busy(
    settings: Settings,
) -> None:
    """What decides whose hashing turn comes last (users.slots; the order is tested there)."""
    throttle = SignInThrottle(
        redis_url=settings.login_redis_url,
        max_failures_per_account=10,
        max_failures_per_address=100,
        window_seconds=60,
        key_prefix=settings.login_limit_key_prefix,
    )
    try:
        attacked = SignInAttempt.of("judy@example.com", ATTACKER)
        assert await throttle.check(attacked) is False
        await throttle.record_failure(attacked)

        assert await throttle.check(attacked) is True
        # The same account from elsewhere, and another account from the same address.
        assert await throttle.check(SignInAttempt.of("judy@example.com", SOMEONE_ELSE)) is True
        assert await throttle.check(SignInAttempt.of("kim@example.com", ATTACKER)) is True
        assert await throttle.check(SignInAttempt.of("kim@example.com", SOMEONE_ELSE)) is False
        assert await throttle.check(SignInAttempt.of("kim@example.com", None)) is False

        # Busy: another sign-in of the same account or from the same address is being checked.
        lee = SignInAttempt.of("lee@example.com", "192.0.2.1")
        with throttle.in_flight(lee):
            assert throttle.busy(SignInAttempt.of("lee@example.com", "192.0.2.2"))
            assert throttle.busy(SignInAttempt.of("max@example.com", "192.0.2.1"))
            assert not throttle.busy(SignInAttempt.of("max@example.com", "192.0.2.2"))
            assert not throttle.busy(SignInAttempt.of("max@example.com", None))
        assert not throttle.busy(lee)
    finally:
        await throttle.close()


async def test_successful_sign_ins_are_not_counted_against_the_address(settings: Settings) -> None:
    settings = settings.model_copy(update={"login_max_failures_per_address": 3})
    async with graph(settings, ATTACKER) as graphql:
        accounts = [await graphql.register(f"office{n}@example.com") for n in range(4)]
        # Far more sign-ins from one address than it may fail.
        for _ in range(3):
            for account in accounts:
                assert signed_in(await graphql.login(account.email, PASSWORD))
        # Its failures are all still to come.
        for _ in range(3):
            assert refused(await graphql.login(accounts[0].email, WRONG))
        retry_after(await graphql.login(accounts[1].email, PASSWORD))


async def test_a_successful_sign_in_starts_the_accounts_count_over(settings: Settings) -> None:
    settings = settings.model_copy(update={"login_max_failures_per_account": 3})
    async with graph(settings) as graphql:
        await graphql.register("erin@example.com")
        for _ in range(3):
            for _ in range(2):
                assert refused(await graphql.login("erin@example.com", WRONG))
            assert signed_in(await graphql.login("erin@example.com", PASSWORD))


async def test_registering_is_not_throttled(settings: Settings) -> None:
    settings = settings.model_copy(update={"login_max_failures_per_address": 2})
    async with graph(settings, ATTACKER) as graphql:
        for _ in range(2):
            assert refused(await graphql.login("frank@example.com", WRONG))
        retry_after(await graphql.login("frank@example.com", WRONG))
        for n in range(5):
            await graphql.register(f"newcomer{n}@example.com")


async def test_the_limits_hold_across_processes_sharing_one_redis(settings: Settings) -> None:
    """Two instances (each on its own database, as two processes on one MongoDB would share
    one) count one account's failures together."""
    settings = settings.model_copy(update={"login_max_failures_per_account": 4})
    other = settings.model_copy(update={"mongodb_database": f"{settings.mongodb_database}_b"})
    async with graph(settings, ATTACKER) as first, graph(other, SOMEONE_ELSE) as second:
        for graphql in (first, second):
            await graphql.register("grace@example.com")
        for _ in range(2):
            assert refused(await first.login("grace@example.com", WRONG))
            assert refused(await second.login("grace@example.com", WRONG))
        retry_after(await first.login("grace@example.com", PASSWORD))
        retry_after(await second.login("grace@example.com", PASSWORD))


async def test_without_redis_sign_in_stays_open_and_limited_in_the_process(settings: Settings) -> None:
    settings = settings.model_copy(
        update={
            "login_redis_url": f"redis://127.0.0.1:{free_port()}/0",  # nothing listens there
            "login_max_failures_per_account": 3,
        }
    )
    async with running_app(settings, ATTACKER) as http:
        graphql = GraphQLClient(http)
        await graphql.register("heidi@example.com")
        assert signed_in(await graphql.login("heidi@example.com", PASSWORD))
        for _ in range(3):
            assert refused(await graphql.login("heidi@example.com", WRONG))
        retry_after(await graphql.login("heidi@example.com", PASSWORD))
        # Sign-in does not need Redis, so readiness does not ask for it.
        assert (await http.get("/health/ready")).status_code == 200


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("testclient", "testclient"),
    ],
)
def test_failures_are_counted_per_ipv4_address_and_per_ipv6_64(address: str, key: str) -> None:
    assert address_key(address) == key
