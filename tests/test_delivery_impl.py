"""DELIVERY_IMPL chooses which implementation of delivery each stack process runs (docs/polyglot.md)."""

import shlex

import pytest

from stack import DELIVERY_IMPLEMENTATIONS, REPO_ROOT, StackConfig, StackError


def test_python_unless_told_otherwise() -> None:
    env = StackConfig.from_env({}).supervisord_env()

    assert shlex.split(env["DELIVERY_COMMAND"]) == list(DELIVERY_IMPLEMENTATIONS["python"])
    assert env["DELIVERY2_COMMAND"] == env["DELIVERY_COMMAND"]


def test_each_process_can_run_either_implementation() -> None:
    both = StackConfig.from_env({"DELIVERY_IMPL": "ts"}).supervisord_env()
    mixed = StackConfig.from_env({"DELIVERY_PROCESSES": "2", "DELIVERY2_IMPL": "ts"}).supervisord_env()

    assert shlex.split(both["DELIVERY_COMMAND"]) == shlex.split(both["DELIVERY2_COMMAND"])
    assert shlex.split(both["DELIVERY_COMMAND"]) == list(DELIVERY_IMPLEMENTATIONS["ts"])
    assert shlex.split(mixed["DELIVERY_COMMAND"]) == list(DELIVERY_IMPLEMENTATIONS["python"])
    assert shlex.split(mixed["DELIVERY2_COMMAND"]) == list(DELIVERY_IMPLEMENTATIONS["ts"])


@pytest.mark.parametrize("variable", ["DELIVERY_IMPL", "DELIVERY2_IMPL"])
def test_an_unknown_implementation_is_refused(variable: str) -> None:
    with pytest.raises(StackError, match=f"{variable} must be one of python, ts"):
        StackConfig.from_env({variable: "cobol"})


def test_every_implementation_is_in_the_repository() -> None:
    python, ts = DELIVERY_IMPLEMENTATIONS["python"], DELIVERY_IMPLEMENTATIONS["ts"]
    assert (REPO_ROOT / python[python.index("--project") + 1] / "pyproject.toml").is_file()
    assert (REPO_ROOT / "subgraphs" / "delivery-ts" / "package-lock.json").is_file()
    assert ts[1].startswith("subgraphs/delivery-ts/dist/")  # built by `make deps`
