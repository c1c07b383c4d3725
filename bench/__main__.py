"""`make bench`: bench stack up, seed, the four scenarios, results in bench/results/.

    bench/run.sh                       # full run (about 15 minutes on 2 cores, seeding included)
    BENCH_QUICK=1 bench/run.sh         # short runs on a smaller data set (a few minutes)

Exit status: 0 when every scenario ran without a single failed request (targets
that were missed are reported, not turned into a failure); 1 otherwise.
"""

import asyncio
import json
import os
import random
import shlex
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import environment, report
from bench.client import GraphQLClient, GraphQLError, operation
from bench.config import Settings
from bench.k6 import K6
from bench.probes import listening_pids
from bench.seed import CUSTOMER_PASSWORD, SeedError, SeedPlan, address_for, ensure_seeded
from bench.stack import BenchStack
from bench.suite import Suite

STORE_DESCRIPTIONS = {
    "ferretdb-postgresql": "FerretDB on its PostgreSQL backend (BENCH_STORE=ferretdb-postgresql, default)",
    "ferretdb-sqlite": "the stack's own FerretDB on SQLite, as in `make up` (BENCH_STORE=ferretdb-sqlite)",
    "external": "the MongoDB at BENCH_MONGODB_URI",
}
CONTEXT_CUSTOMERS = 32
LOGIN_CONCURRENCY = 4
SEED_SUMMARY_KEYS = ("plan", "seconds", "phaseSeconds", "counts", "failures", "skipped")


def log(message: str) -> None:
    print(message, flush=True)


async def sign_in(client: GraphQLClient, email: str) -> str:
    data = await client.execute(operation("login"), {"email": email, "password": CUSTOMER_PASSWORD})
    token: str = data["login"]["token"]
    return token


async def build_context(settings: Settings, seed: dict[str, Any]) -> dict[str, Any]:
    """Signs in the customers the scenarios act as, and writes what k6 needs to a file."""
    customers = seed["customers"]
    if not customers:
        raise SeedError("seeding left no customer with orders")
    heavy = max(customers, key=lambda c: len(c["orderIds"]))
    regular = [c for c in customers if c is not heavy and c["paidOrderIds"] and c["trackingNumbers"]]
    if not regular:
        raise SeedError("seeding left no customer with a paid order and its delivery")
    chosen = random.Random(6).sample(regular, min(CONTEXT_CUSTOMERS, len(regular)))
    gate = asyncio.Semaphore(LOGIN_CONCURRENCY)
    async with GraphQLClient(settings.router_url) as client:

        async def bounded(email: str) -> str:
            async with gate:
                return await sign_in(client, email)

        tokens = await asyncio.gather(*(bounded(c["email"]) for c in [heavy, *chosen]))
        products = await client.execute(operation("products"))
    context = {
        "customers": [
            {
                "id": c["id"],
                "token": token,
                "paidOrderIds": c["paidOrderIds"],
                "trackingNumbers": c["trackingNumbers"],
            }
            for c, token in zip(chosen, tokens[1:], strict=True)
        ],
        "heavyCustomer": {"id": heavy["id"], "token": tokens[0], "orders": len(heavy["orderIds"])},
        "skus": [p["sku"] for p in products["products"]],
        "address": address_for(0),
    }
    settings.work_dir.mkdir(parents=True, exist_ok=True)
    (settings.work_dir / "context.json").write_text(json.dumps(context))
    return context


def run_scenario(name: str, scenarios: dict[str, Any], run: Callable[[], dict[str, Any]]) -> None:
    """Runs one scenario; a scenario that breaks is recorded as such and the others still run."""
    try:
        scenarios[name] = run()
    except Exception as error:  # noqa: BLE001 - reported in the results, never swallowed silently
        log(f"  {name} FAILED: {error}")
        scenarios[name] = {"error": f"{type(error).__name__}: {error}"}


def all_runs(scenarios: dict[str, Any], *, include_search: bool) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = []
    for key in ("routerOverhead", "routerVsGateway"):
        runs += list(scenarios.get(key, {}).get("runs", {}).values())
    runs += scenarios.get("costGrowth", {}).get("runs", [])
    mix = scenarios.get("mixedTraffic", {})
    if "fixedRate" in mix:
        runs.append(mix["fixedRate"])
        if include_search:
            runs += mix["stepSearch"]["runs"]
    return runs


def targets(scenarios: dict[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    overhead = scenarios.get("routerOverhead", {})
    if "addedLatencyMs" in overhead:
        added = overhead["addedLatencyMs"]
        rows.append(
            {
                "name": "Router hop <= 1 ms at p50",
                "measured": f"{added['p50']:.3f} ms (p99 {added['p99']:.3f} ms)",
                "met": overhead["met"],
            }
        )
    versus = scenarios.get("routerVsGateway", {})
    if "ratios" in versus:
        ratios = versus["ratios"]
        rows.append(
            {
                "name": "Apollo Router >= 2x Apollo Gateway on order details (throughput)",
                "measured": f"x{ratios['throughput']} throughput, x{ratios['p50Latency']} p50 latency, "
                f"x{ratios['cpuPerRequest']} less router CPU per request",
                "met": versus["met"],
            }
        )
    growth = scenarios.get("costGrowth", {})
    if "storeCommandsBySize" in growth:
        measured = ", ".join(f"N={n}: {v:g}" for n, v in growth["storeCommandsBySize"].items())
        rows.append(
            {"name": "Store queries per request independent of N", "measured": measured, "met": growth["met"]}
        )
    mix = scenarios.get("mixedTraffic", {})
    if "stepSearch" in mix:
        rows.append(
            {
                "name": "Highest arrival rate with p99 < 100 ms and zero errors (reported, no target)",
                "measured": f"{mix['stepSearch']['highestHeldRate']:g} visits/s",
                "met": mix["stepSearch"]["highestHeldRate"] > 0,
            }
        )
    runs = all_runs(scenarios, include_search=False)
    errors = sum(run["errors"] for run in runs)
    failed = [name for name, result in scenarios.items() if "error" in result]
    rows.append(
        {
            "name": "Zero errors in every scenario (step-search steps excluded: they look for the limit)",
            "measured": f"{errors} failed requests in {sum(run['requests'] for run in runs)}"
            + (f"; scenarios that did not run: {', '.join(failed)}" if failed else ""),
            "met": errors == 0 and not failed,
        }
    )
    return rows


def main() -> int:
    settings = Settings.from_env()
    started = time.monotonic()
    k6 = K6(Path(os.environ["K6_BIN"]), settings.work_dir, settings.work_dir / "context.json")
    stack = BenchStack(settings, log)
    notes: list[str] = [
        f"The bench stack runs with ROUTER_PROFILE={settings.router_profile} (router/router.yaml) for both "
        "routers, in its own data directory and port block (router 4200, gateway 4210, subgraphs 4201-4204).",
        f"Users' password hashing uses the argon2 profile {settings.password_hash_profile} in the bench "
        "stack so that seeding a thousand accounts takes seconds; sign-up and sign-in are not measured.",
        "k6 runs on the same 2 cores as the stack; its CPU is listed as `k6 (load generator)`.",
        f"The Mongo services store into {STORE_DESCRIPTIONS.get(settings.store, settings.store)}.",
    ]
    gateway_available = True
    if settings.start_stack:
        stack.up()
        gateway_available = stack.gateway_up()
    try:
        plan = SeedPlan.quick() if settings.quick else SeedPlan.full()
        seed = asyncio.run(ensure_seeded(settings, plan))
        try:
            context: dict[str, Any] | None = asyncio.run(build_context(settings, seed))
            context_error = ""
        except (SeedError, GraphQLError) as error:
            context, context_error = None, f"no data to run it on: {error}"
            log(f"==> {context_error}")

        def with_context(run: Callable[[dict[str, Any]], dict[str, Any]]) -> Callable[[], dict[str, Any]]:
            def scenario() -> dict[str, Any]:
                if context is None:
                    raise RuntimeError(context_error)
                return run(context)

            return scenario

        ports = settings.ports
        pids = listening_pids(
            {
                "router": ports.router,
                "gateway": ports.gateway,
                "users": ports.users,
                "orders": ports.orders,
                "payments": ports.payments,
                "delivery": ports.delivery,
                **settings.store_ports,
            }
        )
        log(
            f"==> processes under measurement: {', '.join(f'{n} (pid {p})' for n, p in sorted(pids.items()))}"
        )
        suite = Suite(settings, k6, pids, log)
        scenarios: dict[str, Any] = {}
        idle = suite.idle()
        store_costs = suite.store_costs()
        run_scenario("routerOverhead", scenarios, suite.router_overhead)
        run_scenario(
            "routerVsGateway", scenarios, with_context(lambda _: suite.router_vs_gateway(gateway_available))
        )
        run_scenario("costGrowth", scenarios, with_context(lambda c: suite.cost_growth(c["heavyCustomer"])))
        run_scenario("mixedTraffic", scenarios, with_context(lambda _: suite.mixed_traffic()))
        results: dict[str, Any] = {
            "generatedAt": datetime.now(UTC).isoformat(timespec="seconds"),
            "command": ("BENCH_QUICK=1 " if settings.quick else "") + "make bench",
            "argv": shlex.join(sys.argv),
            "quick": settings.quick,
            "totalSeconds": round(time.monotonic() - started, 1),
            "machine": environment.machine(),
            "versions": environment.versions(
                {
                    "router": Path(os.environ.get("ROUTER_BIN", "router")),
                    "ferretdb": Path(os.environ.get("FERRETDB_BIN", "ferretdb")),
                },
                k6.version(),
            ),
            "store": environment.store(settings.store, settings.mongodb_uri),
            "targets": targets(scenarios),
            "seed": {
                key: seed[key] for key in ("plan", "seconds", "phaseSeconds", "counts", "failures", "skipped")
            },
            "idle": idle,
            "storeCosts": store_costs,
            "scenarios": scenarios,
            "notes": notes,
        }
        json_path, md_path = report.write(results, settings.results_dir)
        log(f"==> results: {md_path} and {json_path} ({results['totalSeconds'] / 60:.1f} min)")
        for row in results["targets"]:
            log(f"    [{'met' if row['met'] else 'MISSED'}] {row['name']}: {row['measured']}")
        errors = sum(run["errors"] for run in all_runs(scenarios, include_search=False))
        return 0 if errors == 0 and all("error" not in s for s in scenarios.values()) else 1
    finally:
        if settings.start_stack and not settings.keep_stack:
            stack.down()


if __name__ == "__main__":
    sys.exit(main())
