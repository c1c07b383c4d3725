"""Runs one k6 scenario script and reads its end-of-test summary."""

import json
import os
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.config import BENCH_DIR

SCENARIOS_DIR = BENCH_DIR / "scenarios"
MAX_ERROR_SAMPLES = 10


@dataclass(frozen=True)
class Latency:
    """Milliseconds."""

    avg: float
    p50: float
    p95: float
    p99: float
    max: float

    @classmethod
    def from_trend(cls, values: Mapping[str, float]) -> "Latency":
        return cls(
            avg=round(values.get("avg", 0.0), 3),
            p50=round(values.get("med", values.get("p(50)", 0.0)), 3),
            p95=round(values.get("p(95)", 0.0), 3),
            p99=round(values.get("p(99)", 0.0), 3),
            max=round(values.get("max", 0.0), 3),
        )


@dataclass
class K6Result:
    script: str
    requests: int
    requests_per_second: float
    iterations: int
    iterations_per_second: float
    latency: Latency
    errors: int
    dropped_iterations: int
    seconds: float
    by_operation: dict[str, dict[str, Any]] = field(default_factory=dict)
    by_target: dict[str, dict[str, Any]] = field(default_factory=dict)
    error_samples: list[str] = field(default_factory=list)
    exit_code: int = 0

    @property
    def clean(self) -> bool:
        return self.errors == 0 and self.exit_code == 0


def _metric(metrics: Mapping[str, Any], name: str) -> dict[str, float]:
    values: dict[str, float] = metrics.get(name, {}).get("values", {})
    return values


def parse_summary(script: str, summary: Mapping[str, Any]) -> K6Result:
    metrics = summary["metrics"]
    requests = _metric(metrics, "http_reqs")
    iterations = _metric(metrics, "iterations")
    by_operation = _sub_metrics(metrics, "op")
    return K6Result(
        script=script,
        requests=int(requests.get("count", 0)),
        requests_per_second=round(requests.get("rate", 0.0), 2),
        iterations=int(iterations.get("count", 0)),
        iterations_per_second=round(iterations.get("rate", 0.0), 2),
        latency=Latency.from_trend(_metric(metrics, "http_req_duration")),
        errors=int(_metric(metrics, "shop_errors").get("count", 0)),
        dropped_iterations=int(_metric(metrics, "dropped_iterations").get("count", 0)),
        seconds=round(summary.get("state", {}).get("testRunDurationMs", 0.0) / 1000, 2),
        by_operation=by_operation,
        by_target=_sub_metrics(metrics, "target"),
    )


def _sub_metrics(metrics: Mapping[str, Any], tag: str) -> dict[str, dict[str, Any]]:
    """Latency, requests and errors per value of one tag (`http_req_duration{op:products}`, ...)."""
    by_value: dict[str, dict[str, Any]] = {}
    for name, metric in metrics.items():
        if name.startswith(f"http_req_duration{{{tag}:"):
            value = name.removeprefix(f"http_req_duration{{{tag}:").removesuffix("}")
            by_value.setdefault(value, {})["latency"] = Latency.from_trend(metric["values"]).__dict__
            by_value[value]["requests"] = int(metric["values"].get("count", 0))
        elif name.startswith(f"shop_errors{{{tag}:"):
            value = name.removeprefix(f"shop_errors{{{tag}:").removesuffix("}")
            by_value.setdefault(value, {})["errors"] = int(metric["values"].get("count", 0))
    return by_value


class K6:
    def __init__(self, binary: Path, work_dir: Path, context_file: Path) -> None:
        self.binary = binary
        self.work_dir = work_dir
        self.context_file = context_file

    def version(self) -> str:
        output = subprocess.run([str(self.binary), "version"], capture_output=True, text=True, check=True)
        return output.stdout.strip().splitlines()[0]

    def run(
        self,
        script: str,
        label: str,
        env: Mapping[str, str | int],
        on_start: Callable[[int], None] | None = None,
        timeout: float = 600.0,
    ) -> K6Result:
        """Runs `bench/scenarios/<script>` and returns its summary; `on_start` gets k6's pid."""
        self.work_dir.mkdir(parents=True, exist_ok=True)
        summary_file = self.work_dir / f"{label}.summary.json"
        log_file = self.work_dir / f"{label}.log"
        summary_file.unlink(missing_ok=True)
        variables = {"BENCH_CONTEXT": str(self.context_file), "SUMMARY_FILE": str(summary_file), **env}
        command = [str(self.binary), "run", "--quiet", "--no-color", "--no-usage-report"]
        for name, value in variables.items():
            command += ["-e", f"{name}={value}"]
        command.append(str(SCENARIOS_DIR / script))
        with log_file.open("w") as log:
            process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=SCENARIOS_DIR,
                env={**os.environ, "K6_NO_COLOR": "1"},
            )
            if on_start is not None:
                on_start(process.pid)
            try:
                exit_code = process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                raise RuntimeError(
                    f"k6 {script} ({label}) ran past {timeout:.0f} s; see {log_file}"
                ) from None
        if not summary_file.exists():
            raise RuntimeError(f"k6 {script} ({label}) wrote no summary (exit {exit_code}); see {log_file}")
        result = parse_summary(script, json.loads(summary_file.read_text()))
        result.exit_code = exit_code
        result.error_samples = error_samples(log_file.read_text())
        return result


def error_samples(log_text: str) -> list[str]:
    """The first few `shop_error` lines the scenario logged (each VU logs its first three)."""
    samples: list[str] = []
    for line in log_text.splitlines():
        if "shop_error" in line or "level=error" in line:
            samples.append(line.strip()[:400])
            if len(samples) >= MAX_ERROR_SAMPLES:
                break
    return samples
