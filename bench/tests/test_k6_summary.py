from typing import Any

from bench.k6 import error_samples, parse_summary

SUMMARY: dict[str, Any] = {
    "state": {"testRunDurationMs": 5006.3},
    "metrics": {
        "http_reqs": {"values": {"count": 313, "rate": 62.52}},
        "iterations": {"values": {"count": 300, "rate": 59.9}},
        "http_req_duration": {
            "values": {"avg": 15.1, "med": 11.85, "p(95)": 33.0, "p(99)": 58.2, "max": 181.1}
        },
        "http_req_duration{op:products}": {
            "values": {"avg": 15.1, "med": 11.85, "p(95)": 33.0, "p(99)": 58.2, "max": 181.1, "count": 313}
        },
        "shop_errors": {"values": {"count": 2, "rate": 0.4}},
        "shop_errors{op:products}": {"values": {"count": 2, "rate": 0.4}},
        "dropped_iterations": {"values": {"count": 7, "rate": 1.4}},
    },
}


def test_parse_summary_reads_throughput_latency_errors_and_operations() -> None:
    result = parse_summary("router_overhead.js", SUMMARY)
    assert (result.requests, result.requests_per_second, result.iterations) == (313, 62.52, 300)
    assert (result.latency.p50, result.latency.p95, result.latency.p99) == (11.85, 33.0, 58.2)
    assert (result.errors, result.dropped_iterations, result.seconds) == (2, 7, 5.01)
    assert result.by_operation["products"]["requests"] == 313
    assert result.by_operation["products"]["errors"] == 2
    assert not result.clean


def test_missing_error_counter_means_no_errors() -> None:
    all_metrics: dict[str, Any] = SUMMARY["metrics"]
    metrics = {k: v for k, v in all_metrics.items() if not k.startswith(("shop_errors", "dropped"))}
    result = parse_summary("x.js", {"metrics": metrics})
    assert (result.errors, result.dropped_iterations) == (0, 0)


def test_error_samples_are_the_logged_failures_only() -> None:
    log = "\n".join(["running", 'time="t" level=error msg="shop_error op=products status=502"', "done"] * 20)
    samples = error_samples(log)
    assert len(samples) == 10
    assert all("shop_error" in sample for sample in samples)
