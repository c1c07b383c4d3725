"""The committed results are one measured run, rendered by the current report code."""

import json

from bench.config import BENCH_DIR
from bench.report import render, targets

RESULTS = BENCH_DIR / "results"


def test_latest_md_is_the_rendering_of_latest_json() -> None:
    results = json.loads((RESULTS / "latest.json").read_text())
    assert (RESULTS / "latest.md").read_text() == render(results), (
        "bench/results/latest.md differs from latest.json rendered by bench/report.py: "
        "commit both from one `make bench` run"
    )


def test_the_targets_are_those_the_current_code_derives() -> None:
    results = json.loads((RESULTS / "latest.json").read_text())
    assert results["targets"] == targets(results)
