from bench.probes import delta, parse_store_commands, redis_query_commands, store_totals

METRICS = """\
# HELP shopgraph_store_commands_total Commands sent to the service's store.
# TYPE shopgraph_store_commands_total counter
shopgraph_store_commands_total{command="find",store="mongodb"} 12.0
shopgraph_store_commands_total{command="aggregate",store="mongodb"} 3.0
shopgraph_store_commands_total{command="hgetall",store="redis"} 2.0
shopgraph_store_commands_created{command="find",store="mongodb"} 1.7e+09
"""


def test_parse_store_commands_reads_totals_by_store_and_command() -> None:
    assert parse_store_commands(METRICS) == {
        "mongodb:find": 12.0,
        "mongodb:aggregate": 3.0,
        "redis:hgetall": 2.0,
    }


def test_redis_query_commands_leave_out_stream_polling_and_admin_commands() -> None:
    stats = {
        "cmdstat_get": {"calls": 5},
        "cmdstat_hgetall": {"calls": 7},
        "cmdstat_xreadgroup": {"calls": 900},
        "cmdstat_info": {"calls": 40},
        "cmdstat_client|setinfo": {"calls": 4},
    }
    assert redis_query_commands(stats) == {"get": 5.0, "hgetall": 7.0}


def test_delta_keeps_only_counters_that_moved() -> None:
    assert delta({"a": 5.0, "b": 2.0, "c": 1.0}, {"a": 3.0, "b": 2.0}) == {"a": 2.0, "c": 1.0}


def test_store_totals_add_mongo_and_redis_commands_but_not_round_trips_twice() -> None:
    totals = store_totals(
        {
            "orders": {"mongodb:find": 2.0},
            "payments": {"mongodb:find": 1.0, "mongodb:aggregate": 1.0},
            "delivery": {"redis:pipeline": 1.0},
            "redis-server": {"hgetall": 3.0},
        }
    )
    assert totals == {
        "mongodb (orders)": 2.0,
        "mongodb (payments)": 2.0,
        "redis round trips (delivery)": 1.0,
        "redis commands": 3.0,
        "all stores": 7.0,
    }


def test_store_totals_leave_out_the_delivery_relays_polls() -> None:
    totals = store_totals(
        {
            "delivery": {"redis:MGET": 2.0, "redis:OUTBOX LRANGE": 3.0},
            "redis-server": {"mget": 2.0, "lrange": 3.0},
        }
    )
    assert totals == {"redis round trips (delivery)": 2.0, "redis commands": 2.0, "all stores": 2.0}
