from bench.probes import parse_store_metrics, per_request

METRICS = """\
# TYPE shopgraph_store_calls_total counter
shopgraph_store_calls_total{call="OrderStore.orders_by_id"} 3.0
shopgraph_store_calls_total{call="OrderStore.customer_order_pages"} 1.0
shopgraph_store_commands_total{command="find",store="mongodb"} 12.0
shopgraph_store_commands_total{command="OUTBOX LRANGE",store="redis"} 40.0
shopgraph_store_commands_total{command="MGET",store="redis"} 2.0
shopgraph_store_commands_created{command="find",store="mongodb"} 1.7e+09
"""


def test_store_metrics_are_read_by_call_and_by_command_without_relay_polls() -> None:
    assert parse_store_metrics(METRICS) == {
        "calls:OrderStore.orders_by_id": 3.0,
        "calls:OrderStore.customer_order_pages": 1.0,
        "commands:mongodb:find": 12.0,
        "commands:redis:MGET": 2.0,
    }


def test_per_request_divides_what_moved_by_the_requests() -> None:
    before = {"orders": {"calls:a": 1.0, "commands:mongodb:find": 10.0}, "delivery": {}}
    after = {
        "orders": {"calls:a": 5.0, "commands:mongodb:find": 30.0},
        "delivery": {"commands:redis:MGET": 4.0},
    }
    assert per_request(before, after, 4) == {
        "storeCallsPerRequest": 1.0,
        "storeCommandsPerRequest": 6.0,
        "byService": {"orders": {"calls": 1.0, "commands": 5.0}, "delivery": {"calls": 0.0, "commands": 1.0}},
    }
