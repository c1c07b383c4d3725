"""The committed results are one measured run, rendered by the current report code."""

import json

from bench.config import BENCH_DIR
from bench.report import render

RESULTS = BENCH_DIR / "results"


def test_latest_md_is_the_rendering_of_latest_json() -> None:
    results = json.loads((RESULTS / "latest.json").read_text())
    assert (RESULTS / "latest.md").read_text() == render(results), (
        "bench/results/latest.md differs from latest.json rendered by bench/report.py: "
        "commit both from one `make bench` run"
    )


def test_latest_json_reports_every_scenario_and_the_targets() -> None:
    results = json.loads((RESULTS / "latest.json").read_text())
    assert set(results["scenarios"]) == {"routerOverhead", "routerVsGateway", "costGrowth", "mixedTraffic"}
    assert results["targets"], "the targets table is empty"
    assert {"nproc", "cpuModel", "memoryGiB"} <= set(results["machine"])
    assert {"apolloRouter", "apolloGateway", "ferretdb", "redis", "k6"} <= set(results["versions"])
