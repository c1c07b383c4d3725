"""The stack's Prometheus configuration, made from the stack's ports (scripts/stack.py writes it).

Two jobs: `router` (the Apollo Router's own metrics) and `subgraphs` (every
subgraph process's /metrics, labelled with its service and its program, e.g.
delivery2). Rules are the committed monitoring/rules.yml. Data and this file
live in <stack dir>/prometheus/.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
RULES_FILE = REPO_ROOT / "monitoring" / "rules.yml"
DASHBOARD_DIR = REPO_ROOT / "monitoring" / "dashboard"
# The chart library the dashboard loads (npm-installed from monitoring/dashboard/package-lock.json).
DASHBOARD_LIBRARY = DASHBOARD_DIR / "node_modules" / "uplot" / "dist" / "uPlot.iife.min.js"


@dataclass(frozen=True)
class ScrapeTarget:
    job: str
    port: int
    labels: dict[str, str] = field(default_factory=dict)


def prometheus_config(targets: Sequence[ScrapeTarget], interval_s: int, rules: Path = RULES_FILE) -> str:
    """prometheus.yml: scraping and evaluating every `interval_s` seconds."""
    jobs: dict[str, list[dict[str, Any]]] = {}
    for target in targets:
        static = {"targets": [f"127.0.0.1:{target.port}"], "labels": target.labels}
        jobs.setdefault(target.job, []).append(static)
    interval = f"{interval_s}s"
    config = {
        # A scrape slower than the interval is a failed one (up == 0), not a late one.
        "global": {"scrape_interval": interval, "scrape_timeout": interval, "evaluation_interval": interval},
        "rule_files": [str(rules)],
        "scrape_configs": [
            {"job_name": job, "metrics_path": "/metrics", "static_configs": statics}
            for job, statics in jobs.items()
        ],
    }
    header = "# Written by scripts/stack.py (scripts/monitoring.py) from the stack's ports; do not edit.\n"
    return header + yaml.safe_dump(config, sort_keys=False)
