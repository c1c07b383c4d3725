"""Tracing's settings: off unless TRACING=1, then every process exports to the stack's Jaeger,
whose configuration the pinned Jaeger accepts; the router's tracing is in router.yaml, not in
OTEL_EXPORTER_OTLP_* variables (which make Apollo Router 2.13+ refuse to start)."""

import subprocess
from pathlib import Path

import yaml

from jaeger import JaegerPorts, jaeger_config
from stack import JAEGER_BIN, REPO_ROOT, StackConfig

ROUTER_PROFILES = (REPO_ROOT / "router/router.yaml", REPO_ROOT / "router/router.dev.yaml")
SUPERVISORD_CONF = REPO_ROOT / "stack/supervisord.conf"


def test_tracing_is_off_unless_asked_for() -> None:
    config = StackConfig.from_env({})
    assert not config.tracing
    env = config.supervisord_env()
    # An empty TRACING_ENDPOINT is an unset one: the services install nothing.
    assert (env["TRACING_ENDPOINT"], env["ROUTER_TRACE_SAMPLER"]) == ("", "always_off")


def test_with_tracing_every_process_exports_to_the_stacks_jaeger() -> None:
    config = StackConfig.from_env(
        {
            "TRACING": "1",
            "JAEGER_PORT": "26686",
            "JAEGER_OTLP_GRPC_PORT": "24317",
            "JAEGER_OTLP_HTTP_PORT": "24318",
        }
    )
    env = config.supervisord_env()
    assert env["TRACING_ENDPOINT"] == "http://127.0.0.1:24318"
    assert (env["ROUTER_TRACE_SAMPLER"], env["ROUTER_OTLP_ENDPOINT"]) == (
        "always_on",
        "http://127.0.0.1:24317",
    )
    assert config.jaeger_url == "http://127.0.0.1:26686/"


def test_every_subgraph_process_and_the_router_get_the_tracing_settings() -> None:
    text = SUPERVISORD_CONF.read_text()
    for program in ("users", "orders", "payments", "delivery", "delivery2"):
        section = text.split(f"[program:{program}]", 1)[1].split("[program:", 1)[0]
        assert 'TRACING_ENDPOINT="%(ENV_TRACING_ENDPOINT)s"' in section, program
    router = text.split("[program:router]", 1)[1].split("[program:", 1)[0]
    assert "ROUTER_TRACE_SAMPLER" in router
    assert "OTEL_EXPORTER_OTLP" not in text


def test_the_router_profiles_export_over_otlp_only_when_the_stack_samples() -> None:
    for path in ROUTER_PROFILES:
        tracing = yaml.safe_load(path.read_text())["telemetry"]["exporters"]["tracing"]
        assert tracing["common"]["sampler"] == "${env.ROUTER_TRACE_SAMPLER:-always_off}", path
        assert tracing["otlp"]["endpoint"] == "${env.ROUTER_OTLP_ENDPOINT:-http://127.0.0.1:4317}", path
        assert tracing["propagation"]["trace_context"] is True, path


def test_jaeger_listens_on_the_stacks_ports_only() -> None:
    ports = JaegerPorts(query=26686, query_grpc=26685, otlp_grpc=24317, otlp_http=24318)
    config = yaml.safe_load(jaeger_config(ports))
    otlp = config["receivers"]["otlp"]["protocols"]
    query = config["extensions"]["jaeger_query"]
    endpoints = {
        otlp["grpc"]["endpoint"],
        otlp["http"]["endpoint"],
        query["http"]["endpoint"],
        query["grpc"]["endpoint"],
    }
    assert endpoints == {"127.0.0.1:24317", "127.0.0.1:24318", "127.0.0.1:26686", "127.0.0.1:26685"}
    assert config["service"]["telemetry"]["metrics"]["level"] == "none"  # no metrics port of its own


def test_the_pinned_jaeger_accepts_the_configuration(tmp_path: Path) -> None:
    assert JAEGER_BIN.exists(), f"Jaeger is not built at {JAEGER_BIN}: run `make setup`"
    config_file = tmp_path / "config.yaml"
    config_file.write_text(jaeger_config(StackConfig.from_env({}).jaeger_ports))
    result = subprocess.run(
        [str(JAEGER_BIN), "validate", "--config", str(config_file)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
