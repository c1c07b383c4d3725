"""The monitoring's configuration, checked by Prometheus' own tool (no stack needed):
monitoring/rules.yml and its unit tests (monitoring/rules.test.yml), and the
prometheus.yml the stack writes for `make up` and for the test stack."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import make_test_stack_config

from monitoring import RULES_FILE, prometheus_config
from stack import StackConfig


def promtool(*args: str) -> str:
    binary = shutil.which("promtool")
    assert binary is not None, "promtool is missing: `make setup` installs Debian's prometheus"
    result = subprocess.run([binary, *args], capture_output=True, text=True, cwd=RULES_FILE.parent)
    assert result.returncode == 0, f"promtool {' '.join(args)} failed:\n{result.stdout}{result.stderr}"
    return result.stdout


def test_the_rules_are_valid() -> None:
    assert "SUCCESS" in promtool("check", "rules", str(RULES_FILE))


def test_the_rules_unit_tests_pass() -> None:
    assert "SUCCESS" in promtool("test", "rules", "rules.test.yml")


@pytest.mark.parametrize("stack", ["make up", "test stack"])
def test_the_stacks_prometheus_configuration_is_valid(stack: str, tmp_path: Path) -> None:
    config = StackConfig.from_env({"MONITORING": "1"}) if stack == "make up" else make_test_stack_config()
    config_file = tmp_path / "prometheus.yml"
    config_file.write_text(prometheus_config(config.scrape_targets(), config.monitoring_interval_s))

    assert "SUCCESS" in promtool("check", "config", str(config_file))
    scraped = {target.port for target in config.scrape_targets()}
    expected = {config.ports[program] for program in config.subgraph_programs}
    if "router" in config.routers:
        expected.add(config.ports["router_metrics"])
    assert scraped == expected
