"""The four scenarios: each runs k6 while the process sampler watches every process of the stack."""

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict
from typing import Any

import httpx
import psutil

from bench.client import operation
from bench.config import Settings
from bench.k6 import K6, K6Result
from bench.probes import StoreCounters, commands_per_request, sampling
from bench.store_probe import seeded_query_costs

GROWTH_SIZES = (1, 10, 100)
GROWTH_TOLERANCE = 1.5
GROWTH_SLACK = 2.0
HOP_TARGET_MS = 1.0
GATEWAY_RATIO_TARGET = 2.0
MIX_P99_TARGET_MS = 100.0
# Measuring starts once all the stack's processes together use less than this
# share of one core over a window (at start, each relay sweeps its collection).
QUIET_CPU_SHARE = 0.2
QUIET_WINDOW_SECONDS = 2.0
SETTLE_TIMEOUT_SECONDS = 180.0
MIX_MIN_RATE = 0.5  # visits/s: the step search goes no lower
MIX_MIN_REQUESTS = 50  # a step with fewer requests cannot be said to hold
MIX_MAX_STEP_SECONDS = 60


def visits_per_minute(rate: float) -> int:
    return max(1, round(rate * 60))


def next_search_rate(held: float, failed: float) -> float | None:
    """The step search's next rate (visits/s) after the highest held and lowest failed so far; None: done."""
    if failed == 0:
        return held * 2
    if held == 0:
        lower = failed / 2
        return lower if lower >= MIX_MIN_RATE else None
    middle = (held + failed) / 2
    # Bisecting further than a visit per minute measures noise.
    if visits_per_minute(middle) in (visits_per_minute(held), visits_per_minute(failed)):
        return None
    return middle


def run_record(label: str, target: str, result: K6Result, usage: Mapping[str, Any]) -> dict[str, Any]:
    record = asdict(result)
    record["latency"] = asdict(result.latency)
    record["label"] = label
    record["target"] = target
    record["processes"] = {
        name: {"cpuSeconds": round(u.cpu_seconds, 2), "peakRssMiB": round(u.peak_rss_mib, 1)}
        for name, u in sorted(usage.items())
    }
    return record


class Suite:
    def __init__(
        self, settings: Settings, k6: K6, pids: Mapping[str, int], log: Callable[[str], None]
    ) -> None:
        self.settings = settings
        self.k6 = k6
        self.pids = dict(pids)
        self.log = log
        self.durations = settings.durations

    def measure(self, script: str, label: str, target: str, env: Mapping[str, str | int]) -> dict[str, Any]:
        """One k6 run with CPU and RSS of every stack process (and of k6 itself) sampled around it."""
        with sampling(self.pids) as (sampler, usage):
            result = self.k6.run(
                script, label, env, on_start=lambda pid: sampler.add("k6 (load generator)", pid)
            )
        record = run_record(label, target, result, usage)
        self.log(
            f"    {label}: {result.requests} requests, {result.requests_per_second} req/s, "
            f"p50 {result.latency.p50:.2f} ms, p99 {result.latency.p99:.2f} ms, errors {result.errors}"
            + (f", dropped {result.dropped_iterations}" if result.dropped_iterations else "")
        )
        for sample in result.error_samples[:3]:
            self.log(f"      {sample}")
        return record

    def settle(self) -> float:
        """Waits until the stack is quiet (the relays' sweeps at start are done); returns the wait."""
        started = time.monotonic()
        while time.monotonic() - started < SETTLE_TIMEOUT_SECONDS:
            with sampling(self.pids) as (_, usage):
                time.sleep(QUIET_WINDOW_SECONDS)
            if sum(u.cpu_seconds for u in usage.values()) < QUIET_CPU_SHARE * QUIET_WINDOW_SECONDS:
                break
        return round(time.monotonic() - started, 1)

    def idle(self, seconds: float = 5.0) -> dict[str, Any]:
        """CPU the stack spends with no traffic at all (outbox relays, stream consumers)."""
        waited = self.settle()
        self.log(f"  idle: {seconds:g} s without traffic (after {waited:g} s for the stack to settle)")
        with sampling(self.pids) as (_, usage):
            time.sleep(seconds)
        return {
            "settledAfterSeconds": waited,
            "seconds": seconds,
            "processes": {
                name: {"cpuSeconds": round(u.cpu_seconds, 2), "peakRssMiB": round(u.peak_rss_mib, 1)}
                for name, u in sorted(usage.items())
            },
        }

    def store_costs(self) -> dict[str, Any]:
        """What single queries cost on the seeded collections (the store processes' CPU per query)."""
        self.log("  store: one query at a time on the seeded collections")
        names = [name for name in ("ferretdb", "postgresql") if name in self.pids]
        if not names:
            return {"error": f"the store ({self.settings.store}) runs no process on this machine to measure"}
        costs = seeded_query_costs(self.settings.mongodb_uri, [psutil.Process(self.pids[n]) for n in names])
        costs["measuredProcesses"] = names
        return costs

    def warm_up(self, script: str, label: str, env: Mapping[str, str | int]) -> None:
        self.k6.run(script, f"warmup-{label}", {**env, "DURATION": f"{self.durations.warmup}s"})

    # --- 1. router overhead -----------------------------------------------------

    def router_overhead(self) -> dict[str, Any]:
        self.log(
            "  scenario 1: router overhead (products, 1 VU, alternately straight to orders and via router)"
        )
        env: dict[str, str | int] = {
            "DIRECT_URL": self.settings.subgraph_url("orders"),
            "ROUTER_URL": self.settings.router_url,
            "DURATION": f"{self.durations.overhead}s",
        }
        self.warm_up("router_overhead.js", "overhead", env)
        run = self.measure("router_overhead.js", "overhead", "orders subgraph and router, paired", env)
        direct, routed = run["by_target"]["direct"]["latency"], run["by_target"]["router"]["latency"]
        added = {stat: round(routed[stat] - direct[stat], 3) for stat in ("p50", "p95", "p99", "avg")}
        self.log(f"    router hop adds {added['p50']:.3f} ms at p50, {added['p99']:.3f} ms at p99")
        return {
            "runs": {"overhead": run},
            "byTarget": run["by_target"],
            "addedLatencyMs": added,
            "targetMs": HOP_TARGET_MS,
            "met": added["p50"] <= HOP_TARGET_MS,
        }

    # --- 2. router vs gateway ---------------------------------------------------

    def router_vs_gateway(self, gateway_available: bool) -> dict[str, Any]:
        vus = self.settings.details_vus
        self.log(
            f"  scenario 2: order details through Apollo Router vs Apollo Gateway ({vus} VUs, closed loop)"
        )
        targets = {"router": self.settings.router_url}
        if gateway_available:
            targets["gateway"] = self.settings.gateway_url
        runs: dict[str, dict[str, Any]] = {}
        for label, url in targets.items():
            env: dict[str, str | int] = {
                "TARGET_URL": url,
                "VUS": vus,
                "DURATION": f"{self.durations.details}s",
            }
            self.warm_up("order_details.js", f"details-{label}", env)
            runs[label] = self.measure("order_details.js", f"details-{label}", url, env)
        if "gateway" not in runs:
            return {"runs": runs, "error": "Apollo Gateway did not start; no ratio"}
        router, gateway = runs["router"], runs["gateway"]
        router_cpu = router["processes"].get("router", {}).get("cpuSeconds", 0.0)
        gateway_cpu = gateway["processes"].get("gateway", {}).get("cpuSeconds", 0.0)
        cpu_per_request = {
            "routerMs": round(1000 * router_cpu / max(router["requests"], 1), 3),
            "gatewayMs": round(1000 * gateway_cpu / max(gateway["requests"], 1), 3),
        }
        ratios = {
            "throughput": round(router["requests_per_second"] / max(gateway["requests_per_second"], 1e-9), 2),
            "p50Latency": round(gateway["latency"]["p50"] / max(router["latency"]["p50"], 1e-9), 2),
            "p99Latency": round(gateway["latency"]["p99"] / max(router["latency"]["p99"], 1e-9), 2),
            "cpuPerRequest": round(cpu_per_request["gatewayMs"] / max(cpu_per_request["routerMs"], 1e-9), 2),
        }
        self.log(
            f"    Apollo Router / Gateway: throughput x{ratios['throughput']}, p50 x{ratios['p50Latency']}, "
            f"router CPU per request x{ratios['cpuPerRequest']} less"
        )
        return {
            "runs": runs,
            "ratios": ratios,
            "routerCpuPerRequestMs": cpu_per_request,
            "target": GATEWAY_RATIO_TARGET,
            "met": ratios["throughput"] >= GATEWAY_RATIO_TARGET,
        }

    # --- 3. cost growth ---------------------------------------------------------

    def cost_growth(self, heavy: Mapping[str, Any]) -> dict[str, Any]:
        self.log("  scenario 3: cost growth of me { orders(first: N) { ... payments delivery } }")
        counters = StoreCounters(
            {name: self.settings.subgraph_base(name) for name in ("users", "orders", "payments", "delivery")},
            self.settings.redis_url,
        )
        runs: list[dict[str, Any]] = []
        try:
            with httpx.Client(timeout=30.0) as http:
                for first in GROWTH_SIZES:
                    env: dict[str, str | int] = {
                        "TARGET_URL": self.settings.router_url,
                        "FIRST": first,
                        # A customer with fewer orders than N gets them all.
                        "EXPECTED_NODES": min(first, heavy["orders"]),
                        "ITERATIONS": self.durations.growth_iterations,
                        "MAX_DURATION": f"{self.durations.growth}s",
                    }
                    self.k6.run("cost_growth.js", f"warmup-growth-{first}", {**env, "ITERATIONS": 5})
                    record = self.measure("cost_growth.js", f"growth-{first}", self.settings.router_url, env)
                    body = {"query": operation("my_orders"), "variables": {"first": first}}
                    headers = {"Authorization": f"Bearer {heavy['token']}"}

                    def send(body: dict[str, Any] = body, headers: dict[str, str] = headers) -> None:
                        response = http.post(self.settings.router_url, json=body, headers=headers)
                        payload = response.json()
                        if response.status_code != 200 or payload.get("errors"):
                            raise RuntimeError(
                                f"cost probe failed: {response.status_code} {response.text[:300]}"
                            )

                    commands = commands_per_request(
                        counters, send, self.durations.probe_requests, max_seconds=self.durations.growth
                    )
                    record["first"] = first
                    record["expectedNodes"] = min(first, heavy["orders"])
                    record["storeCommandsPerRequest"] = asdict(commands)
                    self.log(
                        f"    N={first}: store commands per request (median) "
                        + ", ".join(f"{k} {v:g}" for k, v in commands.median.items())
                    )
                    runs.append(record)
        finally:
            counters.close()
        corrected = [run["storeCommandsPerRequest"]["corrected_mean"].get("all stores", 0.0) for run in runs]
        medians = [run["storeCommandsPerRequest"]["median"].get("all stores", 0.0) for run in runs]
        return {
            "runs": runs,
            "storeCommandsBySize": dict(zip((str(n) for n in GROWTH_SIZES), medians, strict=True)),
            "correctedStoreCommandsBySize": dict(zip((str(n) for n in GROWTH_SIZES), corrected, strict=True)),
            # Constant within the noise the background leaves in the median.
            "met": max(medians) <= GROWTH_TOLERANCE * medians[0] + GROWTH_SLACK,
            "note": (
                "MongoDB commands come from each service's shopgraph_store_commands_total counter (FerretDB "
                "has no serverStatus opcounters); Redis commands from INFO commandstats, without the stream "
                "consumers' XREADGROUP polling and the delivery outbox relay's polls. Each value is the "
                "median over sequential probe requests "
                "(in brackets: the mean minus the background rate measured just before, from outbox relays "
                "and event handlers, times the request's duration); 'met': the median at every N is at most "
                f"{GROWTH_TOLERANCE:g}x N=1 + {GROWTH_SLACK:g}."
            ),
        }

    # --- 4. mixed traffic ---------------------------------------------------------

    def mix_step(self, rate: float, seconds: int, label: str) -> dict[str, Any]:
        """One constant-arrival-rate run of the shop mix at `rate` visits/s."""
        env: dict[str, str | int] = {
            "TARGET_URL": self.settings.router_url,
            "VISITS_PER_MINUTE": visits_per_minute(rate),
            "DURATION": f"{seconds}s",
        }
        record = self.measure("shop_mix.js", label, self.settings.router_url, env)
        record["rate"] = rate
        record["errorFree"] = (
            record["errors"] == 0 and record["dropped_iterations"] == 0 and record["exit_code"] == 0
        )
        # A p99 of a few requests is their maximum: too few to say a rate was held.
        record["enoughRequests"] = record["requests"] >= MIX_MIN_REQUESTS
        record["held"] = (
            record["errorFree"] and record["enoughRequests"] and record["latency"]["p99"] < MIX_P99_TARGET_MS
        )
        return record

    def mixed_traffic(self) -> dict[str, Any]:
        rate = self.settings.mix_rate
        self.log(f"  scenario 4: mixed shop traffic at {rate:g} visits/s for {self.durations.mix} s")
        self.warm_up(
            "shop_mix.js",
            "mix",
            {"TARGET_URL": self.settings.router_url, "VISITS_PER_MINUTE": visits_per_minute(rate / 2)},
        )
        fixed = self.mix_step(rate, self.durations.mix, "mix-fixed")
        search = self.step_search()
        return {"fixedRate": fixed, "stepSearch": search}

    def step_search(self) -> dict[str, Any]:
        """Highest arrival rate held with p99 < 100 ms, no errors and no dropped visits.

        From BENCH_MIX_START_RATE, halves the rate while nothing held (down to
        MIX_MIN_RATE) and doubles it while everything held; then bisects between
        the highest held and the lowest failed rate. At most `max_steps` steps
        of `step` seconds.
        """
        seconds, max_steps = self.durations.step, self.durations.max_steps
        self.log(
            f"    step search: at most {max_steps} steps of {seconds} s "
            f"(p99 < {MIX_P99_TARGET_MS:g} ms, 0 errors)"
        )
        held_rate, failed_rate = 0.0, 0.0
        rate = self.settings.mix_start_rate
        steps: list[dict[str, Any]] = []
        started = time.monotonic()
        for step in range(max_steps):
            # Long enough for MIX_MIN_REQUESTS at this rate (visits are one or two requests), within a cap.
            duration = min(max(seconds, math.ceil(MIX_MIN_REQUESTS / rate)), MIX_MAX_STEP_SECONDS)
            record = self.mix_step(rate, duration, f"mix-step-{step + 1}-{visits_per_minute(rate)}pm")
            steps.append(record)
            if record["held"]:
                held_rate = max(held_rate, rate)
            else:
                failed_rate = rate if failed_rate == 0 else min(failed_rate, rate)
            next_rate = next_search_rate(held_rate, failed_rate)
            if next_rate is None:
                break
            rate = next_rate
        return {
            "steps": [
                {
                    "rate": s["rate"],
                    "held": s["held"],
                    "errorFree": s["errorFree"],
                    "requests": s["requests"],
                    "seconds": s["seconds"],
                    "requestsPerSecond": s["requests_per_second"],
                    "p50": s["latency"]["p50"],
                    "p99": s["latency"]["p99"],
                    "errors": s["errors"],
                    "dropped": s["dropped_iterations"],
                }
                for s in steps
            ],
            "highestHeldRate": held_rate,
            "firstFailedRate": failed_rate or None,
            "seconds": round(time.monotonic() - started, 1),
            "criteria": f"p99 < {MIX_P99_TARGET_MS:g} ms, zero errors, zero dropped visits, "
            f"at least {MIX_MIN_REQUESTS} requests",
            "runs": steps,
        }
