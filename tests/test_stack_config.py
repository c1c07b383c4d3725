"""scripts/stack.py's settings: which stores `make up` starts, which MongoDB the services use,
how many delivery processes run, and what Prometheus scrapes when monitoring is on."""

import pytest

from stack import StackConfig, StackError


def test_by_default_the_services_use_the_stacks_own_embedded_store() -> None:
    config = StackConfig.from_env({"FERRETDB_PORT": "27117", "POSTGRESQL_PORT": "27118"})

    # In the order they need each other: FerretDB stores into the PostgreSQL started before it.
    assert config.stores == ("redis", "postgresql", "ferretdb")
    env = config.supervisord_env()
    assert env["MONGODB_URI"] == "mongodb://127.0.0.1:27117/"
    assert env["FERRETDB_POSTGRESQL_URL"] == "postgresql://postgres@127.0.0.1:27118/postgres"


def test_with_stack_mongodb_uri_the_services_use_that_mongodb_and_no_ferretdb_starts() -> None:
    config = StackConfig.from_env({"STACK_MONGODB_URI": "mongodb://mongo.internal:27017/"})

    assert config.stores == ("redis",)
    assert config.supervisord_env()["MONGODB_URI"] == "mongodb://mongo.internal:27017/"
    assert config.supervisord_env()["FERRETDB_POSTGRESQL_URL"] == ""


def test_an_empty_stack_mongodb_uri_means_the_default() -> None:
    assert StackConfig.from_env({"STACK_MONGODB_URI": ""}).stores == ("redis", "postgresql", "ferretdb")


def test_by_default_delivery_runs_once_and_both_routers_query_it() -> None:
    config = StackConfig.from_env({"DELIVERY_PORT": "4104"})

    assert config.processes("delivery") == ("delivery",)
    assert config.subgraph_programs == ("users", "orders", "payments", "delivery")
    assert config.supervisord_env()["GATEWAY_DELIVERY_URL"] == "http://127.0.0.1:4104/graphql"


def test_a_second_delivery_process_serves_apollo_gateway() -> None:
    config = StackConfig.from_env({"DELIVERY_PROCESSES": "2", "DELIVERY2_PORT": "4105"})

    assert config.processes("delivery") == ("delivery", "delivery2")
    assert config.processes("orders") == ("orders",)
    assert config.subgraph_programs == ("users", "orders", "payments", "delivery", "delivery2")
    assert config.supervisord_env()["GATEWAY_DELIVERY_URL"] == "http://127.0.0.1:4105/graphql"


def test_delivery_runs_as_one_or_two_processes_only() -> None:
    with pytest.raises(StackError, match="DELIVERY_PROCESSES must be 1 or 2"):
        StackConfig.from_env({"DELIVERY_PROCESSES": "3"})


def test_the_explorer_queries_the_first_router_the_stack_starts() -> None:
    config = StackConfig.from_env({"ROUTER": "gateway", "GATEWAY_PORT": "4100", "EXPLORER_PORT": "4180"})

    assert config.explorer_url == "http://127.0.0.1:4180/"
    assert config.supervisord_env()["GRAPH_URL"] == "http://127.0.0.1:4100/"
    assert StackConfig.from_env({}).explorer_url == "http://127.0.0.1:4080/"


def test_monitoring_is_off_unless_asked_for() -> None:
    assert not StackConfig.from_env({}).monitoring
    config = StackConfig.from_env({"MONITORING": "1", "PROMETHEUS_PORT": "9290", "MONITORING_INTERVAL": "3"})
    assert config.monitoring
    assert config.monitoring_interval_s == 3
    assert config.dashboard_url == "http://127.0.0.1:9290/user/index.html"
    assert config.supervisord_env()["PROMETHEUS_PORT"] == "9290"
    with pytest.raises(StackError, match="MONITORING must be 0 or 1"):
        StackConfig.from_env({"MONITORING": "yes"})


def test_prometheus_scrapes_each_delivery_process_and_only_the_apollo_router() -> None:
    gateway = StackConfig.from_env({"ROUTER": "gateway", "DELIVERY_PROCESSES": "2", "DELIVERY2_PORT": "4105"})

    targets = {(target.job, target.port, target.labels.get("process")) for target in gateway.scrape_targets()}
    assert ("subgraphs", 4105, "delivery2") in targets
    assert {job for job, _, _ in targets} == {"subgraphs"}  # Apollo Gateway exports no metrics
    assert {"router"} == {t.job for t in StackConfig.from_env({}).scrape_targets()} - {"subgraphs"}
