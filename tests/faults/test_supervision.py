"""The local stack behaves like an orchestrator: a crashed service comes back by itself,
a stopped one stays down, and `restart` touches only the program it names."""

import os
import subprocess
from pathlib import Path

import httpx
import pytest
from conftest import TEST_STACK_ENV

from stack import REPO_ROOT, Stack, StackConfig, StackError


def test_a_killed_service_is_started_again_by_itself(stack_control: Stack) -> None:
    before = stack_control.pid("delivery")

    stack_control.kill("delivery")
    stack_control.wait_healthy("delivery")  # nobody started it: supervisord did

    assert stack_control.pid("delivery") != before
    # Healthy may come before supervisord counts it started (startsecs): STARTING, then RUNNING.
    assert stack_control.state("delivery") in ("STARTING", "RUNNING")


def test_a_stopped_service_stays_down_until_started(stack_control: Stack) -> None:
    stack_control.stop("delivery")
    try:
        assert stack_control.state("delivery") == "STOPPED"
        assert not stack_control.healthy("delivery")
    finally:
        stack_control.start("delivery")
    assert stack_control.healthy("delivery")


def test_restart_touches_only_the_named_program(stack_control: Stack) -> None:
    others = {
        name: stack_control.pid(name) for name in ("redis", "postgresql", "ferretdb", "users", "payments")
    }

    stack_control.restart_alone("orders")

    assert {name: stack_control.pid(name) for name in others} == others
    assert httpx.get(stack_control.config.health_url("orders"), timeout=5.0).status_code == 200


def test_restart_with_other_settings_is_refused_and_changes_nothing(stack_control: Stack) -> None:
    orders = stack_control.pid("orders")
    # As a user who started the stack with one profile and restarts with another would.
    env = {
        **os.environ,
        **TEST_STACK_ENV,
        "ROUTER_PROFILE": "prod" if stack_control.config.profile == "dev" else "dev",
    }
    result = subprocess.run(
        ["uv", "run", "--frozen", "python", "scripts/stack.py", "restart", "orders"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 1, result.stdout + result.stderr
    assert "ROUTER_PROFILE" in result.stderr
    assert "make up" in result.stderr
    assert stack_control.pid("orders") == orders
    assert stack_control.supervisord_running()


def test_restart_of_a_stack_that_is_not_running_says_so(tmp_path: Path) -> None:
    idle = Stack(StackConfig.from_env({"STACK_DIR": str(tmp_path)}))
    with pytest.raises(StackError, match="make up"):
        idle.restart_alone("orders")
