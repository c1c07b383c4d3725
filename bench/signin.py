"""Sign-in under attack (issue #12): do other accounts' sign-ins stay fast while one is attacked?

On a users process hashing as production does (bench/signin_service.py), straight
at its /graphql (it is not behind the router, so X-Forwarded-For goes to it as a
proxy in front of the router would pass it on):
1. registers the legitimate accounts, one target and the accounts to spray;
2. baseline: the legitimate accounts sign in with their passwords at
   LEGITIMATE_RATE, each account from an address of its own;
3. under attack: the same sign-ins in one vegeta run with a brute force on the
   target (a new wrong password each time, from one address) and a spray (one
   wrong password per pass over the sprayed accounts, from another address),
   each stream at its own rate;
4. for each run, `shopgraph_sign_ins_total{outcome}` and the process's CPU
   before and after (after: once every request sent is counted, so work the
   process did after vegeta gave up on a request is in it too).
A legitimate sign-in verifies one password (outcome `succeeded`), an attack
request that was not refused verifies one (`failed`), a refused one none
(`throttled`).
"""

import asyncio
import math
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import psutil

from bench.client import GraphQLClient
from bench.probes import cpu_seconds
from bench.scenarios import Scenarios
from bench.seed import LOGIN, REGISTER
from bench.signin_service import PASSWORD_HASH_PROFILE, Running, throttle_keys, users_of_its_own
from bench.vegeta import Check, Request

LEGITIMATE_ACCOUNTS = 20
SPRAYED_ACCOUNTS = 50
# 24 legitimate sign-ins per quick run, 80 per full one: a p99 of ten moved too much from run to run.
LEGITIMATE_RATE = 4.0
BRUTE_FORCE_RATE = 30.0
SPRAY_RATE = 10.0  # one pass over the sprayed accounts every 5 s
WARM_UP_SIGN_INS = 4
ATTACK_REFUSALS = frozenset({"RATE_LIMITED", "UNAUTHENTICATED"})
SETTLE_TIMEOUT_S = 60.0
PROCESS = "users (sign-in, production hashing)"
# Documentation addresses (RFC 5737): one per legitimate account, one per attacker.
BRUTE_FORCE_ADDRESS = "203.0.113.66"
SPRAY_ADDRESS = "203.0.113.99"
# The peer every request comes from: were X-Forwarded-For not trusted, failures would count against it.
PEER_ADDRESS = "127.0.0.1"
SIGN_IN_LINE = re.compile(r'^shopgraph_sign_ins_total\{outcome="(?P<outcome>\w+)"\}\s+(?P<value>\S+)$')


@dataclass(frozen=True)
class Account:
    email: str
    password: str
    address: str
    id: str = ""


# --- accounts ------------------------------------------------------------------------


def planned_accounts() -> tuple[list[Account], Account, list[Account]]:
    legitimate = [
        Account(f"signin-legit-{i:02d}@bench.example.com", f"legit-password-{i:02d}", f"198.51.100.{i + 1}")
        for i in range(LEGITIMATE_ACCOUNTS)
    ]
    target = Account("signin-target@bench.example.com", "target-password-unguessed", BRUTE_FORCE_ADDRESS)
    sprayed = [
        Account(f"signin-spray-{i:02d}@bench.example.com", f"sprayed-password-{i:02d}", SPRAY_ADDRESS)
        for i in range(SPRAYED_ACCOUNTS)
    ]
    return legitimate, target, sprayed


async def register(url: str, accounts: Sequence[Account]) -> list[Account]:
    """Registers each account through the `register` mutation; the accounts with their ids."""
    gate = asyncio.Semaphore(4)
    async with GraphQLClient(url) as client:

        async def one(account: Account) -> Account:
            variables = {"email": account.email, "name": "Sign-in Bench", "password": account.password}
            async with gate:
                data = await client.execute(REGISTER, {"input": variables})
            return Account(account.email, account.password, account.address, data["register"]["user"]["id"])

        return list(await asyncio.gather(*(one(a) for a in accounts)))


async def warm_up(url: str, accounts: Sequence[Account]) -> None:
    """A few sign-ins first (the first one also makes the service's decoy hash)."""
    async with GraphQLClient(url) as client:
        for account in accounts:
            await client.execute(LOGIN, {"email": account.email, "password": account.password})


# --- requests --------------------------------------------------------------------------


def sign_in(url: str, account: Account, password: str, address: str, name: str, check: Check) -> Request:
    variables = {"email": account.email, "password": password}
    refusals = frozenset() if name == "legitimate" else ATTACK_REFUSALS
    headers = {"X-Forwarded-For": address}
    return Request(url, LOGIN, variables, check, name, headers=headers, refusals=refusals)


def legitimate_request(url: str, account: Account) -> Request:
    def check(data: dict[str, Any]) -> str | None:
        login = data.get("login") or {}
        if login.get("token") and (login.get("user") or {}).get("id") == account.id:
            return None
        return f"{account.email}: {str(login)[:100]}"

    return sign_in(url, account, account.password, account.address, "legitimate", check)


def attack_request(url: str, account: Account, password: str, name: str) -> Request:
    def check(_: dict[str, Any]) -> str | None:  # reached only when the answer has no error
        return f"{account.email} signed in with a wrong password"

    return sign_in(url, account, password, account.address, name, check)


def interleave(streams: Sequence[tuple[float, Sequence[Request]]]) -> list[Request]:
    """The streams as one list, in the order of their own schedules: a run at the streams' summed
    rate then sends each stream at its own rate (request j of a stream at rate r is due at j / r)."""
    due = [
        (j / rate, k, request)
        for k, (rate, requests) in enumerate(streams)
        for j, request in enumerate(requests)
    ]
    return [request for _, _, request in sorted(due, key=lambda d: (d[0], d[1]))]


def attack_streams(
    url: str, legitimate: Sequence[Account], target: Account, sprayed: Sequence[Account], seconds: float
) -> list[tuple[float, list[Request]]]:
    """The legitimate sign-ins, the brute force and the spray, each for `seconds` and one more."""

    def count(rate: float) -> int:
        return math.ceil(rate * (seconds + 1))

    n = len(sprayed)
    return [
        (
            LEGITIMATE_RATE,
            [legitimate_request(url, legitimate[i % len(legitimate)]) for i in range(count(LEGITIMATE_RATE))],
        ),
        (
            BRUTE_FORCE_RATE,
            [
                attack_request(url, target, f"guess-{i:05d}", "bruteForce")
                for i in range(count(BRUTE_FORCE_RATE))
            ],
        ),
        (
            SPRAY_RATE,
            [
                attack_request(url, sprayed[i % n], f"spray-guess-{i // n}", "spray")
                for i in range(count(SPRAY_RATE))
            ],
        ),
    ]


# --- the service's counters ------------------------------------------------------------------


def parse_sign_ins(text: str) -> dict[str, float]:
    """`{"succeeded": 3.0, "failed": 10.0, "throttled": 40.0}` from the service's /metrics."""
    counts: dict[str, float] = {}
    for line in text.splitlines():
        match = SIGN_IN_LINE.match(line.strip())
        if match is not None:
            counts[match["outcome"]] = float(match["value"])
    return counts


def read_sign_ins(url: str) -> dict[str, float]:
    return parse_sign_ins(httpx.get(url, timeout=5.0).text)


def settled(url: str, before: Mapping[str, float], sent: int) -> dict[str, int]:
    """What the counters moved by once `sent` sign-ins are counted (or after SETTLE_TIMEOUT_S)."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while True:
        after = read_sign_ins(url)
        moved = {k: round(v - before.get(k, 0.0)) for k, v in sorted(after.items())}
        if sum(moved.values()) >= sent or time.monotonic() > deadline:
            return {k: v for k, v in moved.items() if v}
        time.sleep(0.5)


# --- the scenario ------------------------------------------------------------------------------


def measured(
    suite: Scenarios, users: Running, label: str, requests: Sequence[Request], rate: float, workers: int
) -> dict[str, Any]:
    """One vegeta run, with what the service counted and the CPU it spent until every request was done."""
    process = psutil.Process(users.pid)
    before, cpu_before = read_sign_ins(users.metrics_url), cpu_seconds(process)
    record = suite.measure(
        label, requests, rate=rate, seconds=suite.settings.durations.signin, workers=workers
    )
    ended = time.monotonic()
    record["signIns"] = settled(users.metrics_url, before, record["requests"])
    # Requests vegeta gave up on are still served: how long the process went on after the run.
    record["settleSeconds"] = round(time.monotonic() - ended, 1)
    record["usersCpuSeconds"] = round(cpu_seconds(process) - cpu_before, 3)
    return record


def sign_in_under_attack(suite: Scenarios) -> dict[str, Any]:
    seconds = suite.settings.durations.signin
    suite.log(
        f"  sign-in under attack ({PASSWORD_HASH_PROFILE}): {LEGITIMATE_ACCOUNTS} accounts signing in at "
        f"{LEGITIMATE_RATE:g}/s, alone, then beside a brute force ({BRUTE_FORCE_RATE:g}/s) and a spray "
        f"over {SPRAYED_ACCOUNTS} accounts ({SPRAY_RATE:g}/s); {seconds} s each"
    )
    with users_of_its_own(suite.settings) as users:
        suite.pids[PROCESS] = users.pid
        try:
            legitimate, target, sprayed = planned_accounts()
            accounts = asyncio.run(register(users.url, [*legitimate, target, *sprayed]))
            legitimate, target, sprayed = (
                accounts[: len(legitimate)],
                accounts[len(legitimate)],
                accounts[len(legitimate) + 1 :],
            )
            asyncio.run(warm_up(users.url, legitimate[:WARM_UP_SIGN_INS]))
            streams = attack_streams(users.url, legitimate, target, sprayed, seconds)
            baseline = measured(suite, users, "signin-baseline", streams[0][1], LEGITIMATE_RATE, 16)
            attack_rate = sum(rate for rate, _ in streams)
            under_attack = measured(
                suite, users, "signin-under-attack", interleave(streams), attack_rate, 512
            )
            keys = throttle_keys(suite.settings)
        finally:
            suite.pids.pop(PROCESS, None)
    result = summarise(baseline, under_attack, sprayed=len(sprayed))
    roles = {
        f"brute force ({BRUTE_FORCE_ADDRESS})": [BRUTE_FORCE_ADDRESS],
        f"spray ({SPRAY_ADDRESS})": [SPRAY_ADDRESS],
        f"the peer ({PEER_ADDRESS})": [PEER_ADDRESS],
        f"legitimate ({len(legitimate)} addresses)": [a.address for a in legitimate],
    }
    result["addressesWithFailures"] = addresses_with_failures(keys, roles)
    legit, attack = result["legitimate"], result["attack"]
    suite.log(
        f"    legitimate p99 {legit['baseline']['latencyMs']['p99']} -> "
        f"{legit['underAttack']['latencyMs']['p99']} ms (x{legit['p99Ratio']}); attack: "
        f"{attack['rateLimitedPercent']} % of {attack['requests']} answered RATE_LIMITED "
        f"({attack.get('throttledPercent')} % refused by the throttle), "
        f"{attack['argon2Verifications']} argon2 verifications, {attack['usersCpuMsPerRequest']} ms CPU each"
    )
    return result


def addresses_with_failures(keys: Sequence[str], addresses: Mapping[str, Sequence[str]]) -> dict[str, bool]:
    """For each role, whether the throttle keeps a failure window (a key `...address/<address>/...`) for
    any of its addresses: the attackers' should have one, the peer's and the legitimate ones none."""
    return {
        role: any(f"address/{address}/" in key for address in group for key in keys)
        for role, group in addresses.items()
    }


def summarise(
    baseline: Mapping[str, Any], under_attack: Mapping[str, Any], *, sprayed: int
) -> dict[str, Any]:
    by_operation = under_attack["byOperation"]
    before, during = baseline["byOperation"]["legitimate"], by_operation["legitimate"]
    attackers = {name: by_operation[name] for name in ("bruteForce", "spray") if name in by_operation}
    requests = sum(a["requests"] for a in attackers.values())
    outcomes: dict[str, int] = {}
    for attacker in attackers.values():
        for outcome, n in attacker.get("outcomes", {}).items():
            outcomes[outcome] = outcomes.get(outcome, 0) + n
    # The legitimate sign-ins' share of the attack run's CPU, at the baseline's CPU per sign-in.
    per_sign_in = baseline["usersCpuSeconds"] / max(baseline["requests"], 1)
    attack_cpu = under_attack["usersCpuSeconds"] - per_sign_in * during["requests"]

    def legit(summary: Mapping[str, Any]) -> dict[str, Any]:
        return {k: summary[k] for k in ("requests", "errors", "latencyMs", "outcomes") if k in summary}

    def ratio(stat: str) -> float:
        return round(float(during["latencyMs"][stat]) / max(float(before["latencyMs"][stat]), 1e-9), 2)

    return {
        "passwordHashProfile": PASSWORD_HASH_PROFILE,
        "throttleLimits": "the service's defaults",
        "accounts": {"legitimate": LEGITIMATE_ACCOUNTS, "target": 1, "sprayed": sprayed},
        "ratesPerSecond": {
            "legitimate": LEGITIMATE_RATE,
            "bruteForce": BRUTE_FORCE_RATE,
            "spray": SPRAY_RATE,
        },
        "legitimate": {
            "baseline": legit(before),
            "underAttack": legit(during),
            "p50Ratio": ratio("p50"),
            "p99Ratio": ratio("p99"),
            "usersCpuMsPerSignIn": round(1000 * per_sign_in, 1),
        },
        "attack": {
            "requests": requests,
            "outcomes": dict(sorted(outcomes.items())),
            "byAttacker": {name: a.get("outcomes", {}) for name, a in attackers.items()},
            "rateLimitedPercent": round(100 * outcomes.get("RATE_LIMITED", 0) / max(requests, 1), 1),
            # The service's own count, answers vegeta no longer waited for included (no legitimate
            # sign-in is refused: their accounts and addresses have no failures).
            "throttledPercent": round(
                100 * under_attack["signIns"].get("throttled", 0) / max(requests, 1), 1
            ),
            # Each spray pass tries one password per account: passes < the per-account limit means
            # every RATE_LIMITED answer to the spray came from its address's window.
            "sprayPasses": math.ceil(attackers["spray"]["requests"] / max(sprayed, 1))
            if "spray" in attackers
            else 0,
            "argon2Verifications": under_attack["signIns"].get("failed", 0),
            "usersCpuMsPerRequest": round(1000 * max(attack_cpu, 0.0) / max(requests, 1), 1),
        },
        "runs": {"baseline": baseline, "underAttack": under_attack},
    }
