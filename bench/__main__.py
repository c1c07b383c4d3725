"""`make bench`: bench stack up, seed, the scenarios, results in bench/results/latest.{json,md}.

    bench/run.sh                  # 1,000 customers, 100,000 orders (BENCH_ORDERS to change)
    BENCH_QUICK=1 bench/run.sh    # 100 customers, 500 orders, short runs: under 3 minutes
    BENCH_SCENARIOS=costGrowth,signInUnderAttack bench/run.sh   # those only, into results/partial.*

Exit status 0 when every scenario ran and no request failed (missed targets
are reported, not turned into a failure); 1 otherwise.
"""

import asyncio
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import report, signin, store_probe
from bench.client import GraphQLClient, operation
from bench.config import SCENARIOS, SUBGRAPHS, Settings
from bench.probes import listening_pids
from bench.scenarios import Context, Scenarios, build_context
from bench.seed import ensure_seeded
from bench.stack import BenchStack
from bench.vegeta import Vegeta


def log(message: str) -> None:
    print(message, flush=True)


def run(name: str, scenarios: dict[str, Any], scenario: Callable[[], dict[str, Any]]) -> None:
    """Runs one scenario; one that breaks is recorded as such and the others still run."""
    try:
        scenarios[name] = scenario()
    except Exception as error:  # noqa: BLE001 - recorded in the results, never silently
        log(f"  {name} FAILED: {type(error).__name__}: {error}")
        scenarios[name] = {"error": f"{type(error).__name__}: {error}"}


def output(command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    except OSError as error:
        return f"unavailable ({error})"
    lines = (done.stdout or done.stderr).strip().splitlines()
    return lines[0] if lines else "unavailable"


def machine() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "unknown",
    )
    memory = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal:")
    )
    return {
        "nproc": os.cpu_count(),
        "cpuModel": cpu,
        "memoryGiB": round(memory / 2**20, 1),
        "kernel": platform.release(),
        "loadAverageAtStart": [round(v, 2) for v in os.getloadavg()],
    }


def versions() -> dict[str, str]:
    return {
        "apolloRouter": output([os.environ.get("ROUTER_BIN", "router"), "--version"]),
        "ferretdb": output([os.environ.get("FERRETDB_BIN", "ferretdb"), "--version"]),
        "postgresql": output(["bash", "-c", '"$(pg_config --bindir)/postgres" --version']),
        "redis": output(["redis-server", "--version"]),
        "node": output(["node", "--version"]),
        "vegeta": os.environ.get("VEGETA_VERSION", "?"),
        "python": platform.python_version(),
    }


def main() -> int:
    settings = Settings.from_env()
    started = time.monotonic()
    load_average = machine()
    vegeta = Vegeta(Path(os.environ["VEGETA_BIN"]), settings.work_dir)
    stack = BenchStack(settings, log)
    gateway = settings.router == "router"
    if settings.start_stack:
        stack.up()
        gateway = gateway and stack.gateway_up()
    try:
        ports = settings.ports
        named = {
            "router": ports.router,
            "gateway": ports.gateway,
            **{n: getattr(ports, n) for n in SUBGRAPHS},
        }
        pids = listening_pids({**named, **settings.store_ports})
        suite = Scenarios(settings, vegeta, pids, log)
        products = asyncio.run(_products(settings))
        suite.skus = products

        async def at_small(record: dict[str, Any]) -> dict[str, Any]:
            context = await build_context(settings, record)
            # Called from inside the seed's event loop: vegeta runs in a thread.
            orders = sum(len(c["orders"]) for c in record["customers"])
            details = await asyncio.to_thread(
                suite.order_details, context, f"details-at-{orders}", settings.router_url
            )
            return {"orders": orders, "details": details, "via": settings.router}

        seed_started = time.monotonic()
        record = asyncio.run(ensure_seeded(settings, stack, log, at_small))
        seed_seconds = round(time.monotonic() - seed_started, 1)
        pids = listening_pids({**named, **settings.store_ports})  # orders and payments were restarted
        suite.pids = pids
        log(f"==> measuring: {', '.join(f'{n} (pid {p})' for n, p in sorted(pids.items()))}")
        context: Context = asyncio.run(build_context(settings, record))
        measures: dict[str, Callable[[], dict[str, Any]]] = {
            "storeProbe": lambda: asyncio.run(store_probe.probe(settings, log)),
            "routerOverhead": lambda: suite.router_overhead(context),
            "routerVsGateway": lambda: suite.router_vs_gateway(context, gateway),
            "deliveryImplementations": lambda: suite.delivery_implementations(context),
            "costGrowth": lambda: suite.cost_growth(context),
            "shoppers": lambda: suite.shoppers(context),
            "mixedTraffic": lambda: suite.mixed_traffic(context),
            "signInUnderAttack": lambda: signin.sign_in_under_attack(suite),
        }
        if tuple(measures) != SCENARIOS:
            raise RuntimeError("bench/config.py's SCENARIOS must name every scenario here, in order")
        scenarios: dict[str, Any] = {}
        for name in settings.scenarios:
            run(name, scenarios, measures[name])
        chosen = f"BENCH_SCENARIOS={','.join(settings.scenarios)} " if settings.partial else ""
        results: dict[str, Any] = {
            "generatedAt": datetime.now(UTC).isoformat(timespec="seconds"),
            "command": ("BENCH_QUICK=1 " if settings.quick else "") + chosen + "make bench",
            "quick": settings.quick,
            "totalSeconds": round(time.monotonic() - started, 1),
            "machine": load_average,
            "versions": versions(),
            "store": "MongoDB at BENCH_MONGODB_URI"
            if settings.external_mongodb_uri
            else "FerretDB on PostgreSQL",
            "seed": report.seed_summary(record, seed_seconds),
            "scenarios": scenarios,
        }
        results["targets"] = report.targets(results)
        json_path, md_path = report.write(
            results, settings.results_dir, "partial" if settings.partial else "latest"
        )
        log(f"==> results: {md_path} and {json_path} ({results['totalSeconds'] / 60:.1f} min)")
        for row in results["targets"]:
            log(f"    [{row['met']}] {row['name']}: {row['measured']}")
        failed = [name for name, s in scenarios.items() if "error" in s]
        return 0 if not failed and report.total_errors(results) == 0 else 1
    finally:
        if settings.start_stack and not settings.keep_stack:
            stack.down()


async def _products(settings: Settings) -> list[str]:
    async with GraphQLClient(settings.router_url) as client:
        data = await client.execute(operation("products"))
    return [p["sku"] for p in data["products"]]


if __name__ == "__main__":
    sys.exit(main())
