import base64
import json
from typing import Any

from bench.vegeta import Request, percentile, problem_with, read_results


def ok(data: dict[str, Any]) -> str | None:
    return None if data.get("order", {}).get("id") == "o1" else "wrong order"


def result(
    index: int, code: int, body: dict[str, Any] | str, latency_ms: float, at: str, error: str = ""
) -> str:
    raw = body if isinstance(body, str) else json.dumps(body)
    return json.dumps(
        {
            "url": f"http://127.0.0.1:4200/?r={index}",
            "code": code,
            "latency": int(latency_ms * 1e6),
            "timestamp": at,
            "error": error,
            "body": base64.b64encode(raw.encode()).decode(),
        }
    )


def test_a_target_carries_its_body_headers_and_index() -> None:
    target = Request("http://127.0.0.1:4200/", "query Q { x }", {"id": "o1"}, ok, "q", token="t0k").target(7)
    assert target["url"] == "http://127.0.0.1:4200/?r=7"
    assert json.loads(base64.b64decode(target["body"])) == {
        "query": "query Q { x }",
        "variables": {"id": "o1"},
    }
    assert target["header"]["Authorization"] == ["Bearer t0k"]


def test_every_response_is_checked_by_its_own_request() -> None:
    requests = [Request("u", "q", {}, ok, "details"), Request("u", "q", {}, lambda _: None, "products")]
    lines = [
        result(0, 200, {"data": {"order": {"id": "o1"}}}, 10, "2026-12-01T10:00:00.000000001Z"),
        result(1, 200, {"data": {"products": []}}, 20, "2026-12-01T10:00:00.5Z"),
        result(2, 200, {"data": {"order": {"id": "o2"}}}, 30, "2026-12-01T10:00:01Z"),  # wraps to request 0
        result(3, 502, "bad gateway", 40, "2026-12-01T10:00:01.5Z"),
    ]
    total, by_operation, span = read_results(lines, requests)
    assert (total.requests, total.errors) == (4, 2)
    assert (by_operation["details"].errors, by_operation["products"].errors) == (1, 1)
    assert abs(span - 1.54) < 1e-6


def test_a_response_with_errors_or_without_data_is_a_failure() -> None:
    assert problem_with(200, "", b'{"data": null, "errors": [{"message": "x"}]}', ok) is not None
    assert problem_with(200, "", b'{"data": null}', ok) == "no data"
    assert problem_with(200, "", b"<html>", ok) is not None
    assert problem_with(200, "", b'{"data": {"order": {"id": "o1"}}}', ok) is None


def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 0.5), percentile(values, 0.99), percentile([], 0.5)) == (50.0, 99.0, 0.0)


def test_a_target_carries_its_own_headers() -> None:
    request = Request("u", "q", {}, ok, "q", headers={"X-Forwarded-For": "198.51.100.1"})
    assert request.target(0)["header"]["X-Forwarded-For"] == ["198.51.100.1"]


def test_an_expected_refusal_is_an_answer_and_every_result_is_counted_by_outcome() -> None:
    refused = {"data": None, "errors": [{"message": "no", "extensions": {"code": "RATE_LIMITED"}}]}
    wrong = {"data": None, "errors": [{"message": "no", "extensions": {"code": "INTERNAL_SERVER_ERROR"}}]}
    attack = Request("u", "q", {}, ok, "attack", refusals=frozenset({"RATE_LIMITED"}))
    lines = [
        result(0, 200, refused, 1, "2026-12-01T10:00:00Z"),
        result(0, 200, wrong, 1, "2026-12-01T10:00:00.1Z"),
        result(0, 200, {"data": {"order": {"id": "o1"}}}, 1, "2026-12-01T10:00:00.2Z"),
        result(0, 0, "", 1, "2026-12-01T10:00:00.3Z", "context deadline exceeded (Client.Timeout exceeded)"),
    ]
    total, _, _ = read_results(lines, [attack])
    assert total.errors == 2
    outcomes = {"INTERNAL_SERVER_ERROR": 1, "RATE_LIMITED": 1, "ok": 1, "timeout": 1}
    assert total.record(1.0)["outcomes"] == outcomes
    legitimate = Request("u", "q", {}, ok, "legitimate")
    assert read_results(lines[:1], [legitimate])[0].errors == 1
