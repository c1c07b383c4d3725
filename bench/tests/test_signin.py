from typing import Any

from bench.report import targets
from bench.signin import addresses_with_failures, interleave, parse_sign_ins, summarise
from bench.vegeta import Request

METRICS = """\
# TYPE shopgraph_sign_ins_total counter
shopgraph_sign_ins_total{outcome="succeeded"} 12.0
shopgraph_sign_ins_total{outcome="failed"} 60.0
shopgraph_sign_ins_created{outcome="failed"} 1.7e+09
shopgraph_sign_ins_total{outcome="throttled"} 140.0
"""


def named(name: str) -> Request:
    return Request("u", "q", {}, lambda _: None, name)


def test_streams_are_interleaved_on_their_own_schedules() -> None:
    slow = [named("a0"), named("a1")]
    fast = [named(f"b{i}") for i in range(6)]
    order = [r.operation for r in interleave([(1.0, slow), (3.0, fast)])]
    assert order == ["a0", "b0", "b1", "b2", "a1", "b3", "b4", "b5"]


def test_the_sign_in_counters_are_read_by_outcome() -> None:
    assert parse_sign_ins(METRICS) == {"succeeded": 12.0, "failed": 60.0, "throttled": 140.0}


def run(requests: int, p50: float, p99: float, errors: int, outcomes: dict[str, int]) -> dict[str, Any]:
    return {
        "requests": requests,
        "errors": errors,
        "latencyMs": {"p50": p50, "p95": p99, "p99": p99, "max": p99},
        "outcomes": outcomes,
    }


def test_the_summary_compares_the_legitimate_sign_ins_and_counts_the_attack() -> None:
    baseline = {
        **run(10, 100.0, 150.0, 0, {"ok": 10}),
        "byOperation": {"legitimate": run(10, 100.0, 150.0, 0, {"ok": 10})},
        "signIns": {"succeeded": 10},
        "usersCpuSeconds": 2.0,
    }
    under_attack = {
        **run(210, 50.0, 400.0, 0, {}),
        "byOperation": {
            "legitimate": run(10, 120.0, 450.0, 0, {"ok": 10}),
            "bruteForce": run(150, 5.0, 300.0, 0, {"RATE_LIMITED": 140, "UNAUTHENTICATED": 10}),
            "spray": run(50, 200.0, 400.0, 0, {"UNAUTHENTICATED": 50}),
        },
        "signIns": {"succeeded": 10, "failed": 60, "throttled": 140},
        "usersCpuSeconds": 14.0,
    }
    summary = summarise(baseline, under_attack, sprayed=50)
    assert summary["legitimate"]["p99Ratio"] == 3.0
    assert summary["legitimate"]["usersCpuMsPerSignIn"] == 200.0
    attack = summary["attack"]
    assert attack["requests"] == 200
    assert attack["outcomes"] == {"RATE_LIMITED": 140, "UNAUTHENTICATED": 60}
    assert (attack["rateLimitedPercent"], attack["throttledPercent"]) == (70.0, 70.0)
    assert (attack["argon2Verifications"], attack["sprayPasses"]) == (60, 1)
    assert attack["usersCpuMsPerRequest"] == 60.0  # (14 s - 10 x 0.2 s) / 200

    results = {"scenarios": {"signInUnderAttack": summary}, "seed": {"orders": 500}}
    row = next(t for t in targets(results) if t["name"].startswith("Legitimate sign-ins"))
    assert row["met"] == "no"
    assert row["measured"].startswith("p99 450.0 ms vs 150.0 ms (x3.0)")
    assert "70.0 % of 200 answered RATE_LIMITED (70.0 % refused by the throttle in all)" in row["measured"]


def test_an_address_has_failures_only_when_a_window_key_names_it_whole() -> None:
    keys = ["shopgraph:users:login:LIMITER/address/198.51.100.10/100/900/second"]
    roles = {
        "one": ["198.51.100.1"],
        "ten": ["198.51.100.10"],
        "peer": ["127.0.0.1"],
        "any": ["a", "198.51.100.10"],
    }
    counted = addresses_with_failures(keys, roles)
    assert counted == {"one": False, "ten": True, "peer": False, "any": True}
