"""Writes a run's results as `latest.json` and a readable `latest.md`."""

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


def write(results: Mapping[str, Any], directory: Path) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    json_path = directory / "latest.json"
    md_path = directory / "latest.md"
    json_path.write_text(json.dumps(results, indent=2, sort_keys=False) + "\n")
    md_path.write_text(render(results))
    return json_path, md_path


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return [*lines, ""]


def _ms(value: float) -> str:
    return f"{value:.2f}"


def run_rows(runs: Sequence[Mapping[str, Any]]) -> list[str]:
    rows = [
        [
            run["label"],
            run["requests"],
            f"{run['requests_per_second']:.1f}",
            _ms(run["latency"]["p50"]),
            _ms(run["latency"]["p95"]),
            _ms(run["latency"]["p99"]),
            run["errors"],
            run.get("dropped_iterations", 0),
        ]
        for run in runs
    ]
    return _table(["run", "requests", "req/s", "p50 ms", "p95 ms", "p99 ms", "errors", "dropped"], rows)


def process_rows(runs: Sequence[Mapping[str, Any]]) -> list[str]:
    names = sorted({name for run in runs for name in run["processes"]})
    header = ["process"] + [f"{run['label']} CPU s / peak RSS MiB" for run in runs]
    rows = []
    for name in names:
        cells = [name]
        for run in runs:
            usage = run["processes"].get(name)
            cells.append(f"{usage['cpuSeconds']:.2f} / {usage['peakRssMiB']:.0f}" if usage else "-")
        rows.append(cells)
    return _table(header, rows)


def error_lines(runs: Sequence[Mapping[str, Any]]) -> list[str]:
    lines: list[str] = []
    for run in runs:
        if run["errors"] or run.get("exit_code"):
            lines.append(
                f"- **{run['label']}**: {run['errors']} errors (k6 exit code {run.get('exit_code')})"
            )
            lines += [f"  - `{sample}`" for sample in run.get("error_samples", [])[:5]]
    return lines + ([""] if lines else [])


def render(results: Mapping[str, Any]) -> str:
    out: list[str] = ["# shopgraph benchmark: latest results", ""]
    out.append(
        f"Measured {results['generatedAt']} with `{results['command']}`"
        f"{' (BENCH_QUICK=1: shorter runs, smaller data set)' if results['quick'] else ''}; "
        f"the whole run took {results['totalSeconds'] / 60:.1f} min. Method and reading guide: "
        "[docs/performance.md](../../docs/performance.md)."
    )
    out.append("")
    out += ["## Targets", ""]
    out += _table(
        ["target", "measured", "met"],
        [[t["name"], t["measured"], "yes" if t["met"] else "**no**"] for t in results["targets"]],
    )

    scenarios = results["scenarios"]
    overhead = scenarios.get("routerOverhead", {})
    if "runs" in overhead:
        runs = list(overhead["runs"].values())
        added = overhead["addedLatencyMs"]
        out += [
            "## 1. Router overhead (`products`, 1 VU, alternately straight to orders and through the router)",
            "",
        ]
        out.append(
            f"Added by the router hop: **{added['p50']:.3f} ms at p50**, {added['p95']:.3f} ms at p95, "
            f"**{added['p99']:.3f} ms at p99** (target ≤ {overhead['targetMs']} ms at p50)."
        )
        out.append("")
        out += _table(
            ["target", "requests", "p50 ms", "p95 ms", "p99 ms", "errors"],
            [
                [
                    target,
                    v.get("requests", 0),
                    _ms(v["latency"]["p50"]),
                    _ms(v["latency"]["p95"]),
                    _ms(v["latency"]["p99"]),
                    v.get("errors", 0),
                ]
                for target, v in sorted(overhead["byTarget"].items())
            ],
        )
        out += process_rows(runs) + error_lines(runs)
    elif overhead:
        out += ["## 1. Router overhead", "", f"Failed: {overhead.get('error')}", ""]

    versus = scenarios.get("routerVsGateway", {})
    if "runs" in versus:
        runs = list(versus["runs"].values())
        out += ["## 2. Apollo Router vs Apollo Gateway (four-subgraph order details, closed loop)", ""]
        if "ratios" in versus:
            ratios = versus["ratios"]
            cpu = versus["routerCpuPerRequestMs"]
            out.append(
                f"Router/Gateway throughput ratio **x{ratios['throughput']}** (target x{versus['target']}); "
                f"latency ratio (gateway/router) p50 x{ratios['p50Latency']}, p99 x{ratios['p99Latency']}; "
                f"CPU per request in the router process: Apollo Router {cpu['routerMs']} ms, "
                f"Apollo Gateway {cpu['gatewayMs']} ms (x{ratios['cpuPerRequest']})."
            )
        else:
            out.append(f"No ratio: {versus.get('error')}")
        out.append("")
        out += run_rows(runs) + process_rows(runs) + error_lines(runs)
    elif versus:
        out += ["## 2. Apollo Router vs Apollo Gateway", "", f"Failed: {versus.get('error')}", ""]

    growth = scenarios.get("costGrowth", {})
    if "runs" in growth:
        runs = growth["runs"]
        out += ["## 3. Cost growth: `me { orders(first: N) { nodes { … payments delivery } } }`", ""]
        keys = sorted({k for run in runs for k in run["storeCommandsPerRequest"]["corrected_mean"]})
        header = ["N", "req/s", "p50 ms", "p99 ms", "errors"] + [f"{k} / request" for k in keys]
        rows = [
            [
                run["first"],
                f"{run['requests_per_second']:.1f}",
                _ms(run["latency"]["p50"]),
                _ms(run["latency"]["p99"]),
                run["errors"],
                *[
                    f"{run['storeCommandsPerRequest']['median'].get(k, 0):g} "
                    f"({run['storeCommandsPerRequest']['corrected_mean'].get(k, 0):g})"
                    for k in keys
                ],
            ]
            for run in runs
        ]
        out += _table(header, rows)
        verdict = "do not grow" if growth["met"] else "**grow**"
        out.append(
            f"Store commands per request, median (background-subtracted mean in brackets), {verdict} with N. "
            + growth["note"]
        )
        out.append("")
        out.append("Commands per request by store and command (raw mean, background included):")
        out.append("")
        for run in runs:
            by_command = run["storeCommandsPerRequest"]["by_command"]
            parts = [
                f"{source}: " + ", ".join(f"{c} {v:g}" for c, v in cmds.items())
                for source, cmds in by_command.items()
            ]
            out.append(f"- N={run['first']}: " + "; ".join(parts))
        out.append("")
        out += process_rows(runs) + error_lines(runs)
    elif growth:
        out += ["## 3. Cost growth", "", f"Failed: {growth.get('error')}", ""]

    mix = scenarios.get("mixedTraffic", {})
    if "fixedRate" in mix:
        fixed = mix["fixedRate"]
        search = mix["stepSearch"]
        out += ["## 4. Mixed shop traffic (constant arrival rate)", ""]
        out.append(
            f"{fixed['rate']:g} visits/s for {fixed['seconds']:.0f} s "
            "(40% browse products, 25% order details, "
            "15% track delivery, 20% checkout = place order + pay): "
            f"**{fixed['requests_per_second']:.1f} req/s, p50 {_ms(fixed['latency']['p50'])} ms, "
            f"p99 {_ms(fixed['latency']['p99'])} ms, {fixed['errors']} errors**, "
            f"{fixed['dropped_iterations']} dropped visits."
        )
        out.append("")
        ops = fixed.get("by_operation", {})
        out += _table(
            ["operation", "requests", "p50 ms", "p95 ms", "p99 ms", "errors"],
            [
                [
                    op,
                    v.get("requests", 0),
                    _ms(v["latency"]["p50"]),
                    _ms(v["latency"]["p95"]),
                    _ms(v["latency"]["p99"]),
                    v.get("errors", 0),
                ]
                for op, v in sorted(ops.items())
                if "latency" in v
            ],
        )
        out.append(
            f"Step search ({search['criteria']}): "
            f"highest rate held **{search['highestHeldRate']:g} visits/s**"
            + (f", lowest failed {search['firstFailedRate']:g} visits/s" if search["firstFailedRate"] else "")
            + f" ({search['seconds']:.0f} s)."
        )
        out.append("")
        out += _table(
            ["visits/s", "seconds", "requests", "req/s", "p50 ms", "p99 ms", "errors", "dropped", "held"],
            [
                [
                    f"{s['rate']:g}",
                    f"{s.get('seconds', 0):.0f}",
                    s.get("requests", "?"),
                    f"{s['requestsPerSecond']:.1f}",
                    _ms(s["p50"]),
                    _ms(s["p99"]),
                    s["errors"],
                    s["dropped"],
                    "yes" if s["held"] else "no",
                ]
                for s in search["steps"]
            ],
        )
        out += process_rows([fixed]) + error_lines([fixed, *search["runs"]])
    elif mix:
        out += ["## 4. Mixed shop traffic", "", f"Failed: {mix.get('error')}", ""]

    store = results.get("storeCosts")
    if store:
        out += ["## What one store query costs at this data size", ""]
        if "error" in store:
            out += [f"Failed: {store['error']}", ""]
        else:
            out.append(
                "One query at a time on the idle bench stack, each repeated 5 times: "
                "the CPU of the store's processes "
                f"({', '.join(store.get('measuredProcesses', ['ferretdb']))}) "
                "per query and the wall time the client saw."
            )
            out.append("")
            out += _table(
                ["collection", "documents", "query", "store CPU ms", "wall ms"],
                [
                    [
                        q["collection"],
                        q["documents"],
                        q["query"],
                        q["serverCpuMsPerQuery"],
                        q["wallMsPerQuery"],
                    ]
                    for q in store["queries"]
                ],
            )
            out.append(f"The store's plan for `_id` equality on orders: `{store['idEqualityPlan']}`")
            out.append("")

    idle = results.get("idle")
    if idle:
        settled = idle.get("settledAfterSeconds")
        after = f", once the stack was quiet: waited {settled:g} s" if settled is not None else ""
        out += [f"## Background load ({idle['seconds']:g} s without traffic{after})", ""]
        out += _table(
            ["process", "CPU s", "share of one core", "peak RSS MiB"],
            [
                [
                    name,
                    f"{u['cpuSeconds']:.2f}",
                    f"{100 * u['cpuSeconds'] / idle['seconds']:.0f} %",
                    f"{u['peakRssMiB']:.0f}",
                ]
                for name, u in idle["processes"].items()
            ],
        )

    seed = results.get("seed", {})
    if seed:
        counts = seed["counts"]
        out += ["## Data set", ""]
        out.append(
            f"{counts['customers']} customers, {counts['orders']} orders (last payment status: "
            + ", ".join(f"{k} {v}" for k, v in sorted(counts["ordersByLastPaymentStatus"].items()))
            + f"; {counts['repaidAfterDecline']} paid again after a decline), "
            f"{counts['deliveries']} deliveries, "
            f"up to {counts['maxOrdersPerCustomer']} orders per customer. Seeded in {seed['seconds']} s "
            "(the first wave through the router, the rest copied from it: docs/performance.md)"
            + (" (in an earlier run; reused)" if seed.get("skipped") else "")
            + f"; {seed['failures']['total']} seeding failures."
        )
        out.append("")
        plan = seed["plan"]
        if counts["orders"] < plan["orders"] or counts["customers"] < plan["customers"]:
            out.append(
                f"**The planned data set was {plan['customers']} customers and {plan['orders']} orders**; "
                + "See docs/performance.md for why."
            )
            out.append("")
        if seed["failures"]["samples"]:
            out += ["Seeding failures (first few):", ""]
            out += [f"- `{sample}`" for sample in seed["failures"]["samples"][:8]] + [""]

    out += ["## Machine and versions", ""]
    machine = results["machine"]
    out.append(
        f"- machine: {machine['nproc']} CPUs ({machine['cpuModel']}), {machine['memoryGiB']} GiB, "
        f"{machine['os']}; load average at start {machine['loadAverageAtStart']}"
    )
    if "store" in results:
        out.append("- store: " + ", ".join(f"{k} {v}" for k, v in results["store"].items()))
    versions = results["versions"]
    for key, value in versions.items():
        if key != "subgraphLibraries":
            out.append(f"- {key}: {value}")
    libraries = versions.get("subgraphLibraries", {})
    for name, pins in libraries.items():
        out.append(f"- {name} subgraph: " + ", ".join(f"{k} {v}" for k, v in sorted(pins.items())))
    out.append("")
    if results.get("notes"):
        out += ["## Notes", ""] + [f"- {note}" for note in results["notes"]] + [""]
    return "\n".join(out)
