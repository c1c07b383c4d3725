"""scripts/stack.py's settings: which stores `make up` starts, and which MongoDB the services use."""

from stack import StackConfig


def test_by_default_the_services_use_the_stacks_own_ferretdb() -> None:
    config = StackConfig.from_env({"FERRETDB_PORT": "27117"})

    assert config.stores == ("redis", "ferretdb")
    assert config.supervisord_env()["MONGODB_URI"] == "mongodb://127.0.0.1:27117/"


def test_with_stack_mongodb_uri_the_services_use_that_mongodb_and_no_ferretdb_starts() -> None:
    config = StackConfig.from_env({"STACK_MONGODB_URI": "mongodb://mongo.internal:27017/"})

    assert config.stores == ("redis",)
    assert config.supervisord_env()["MONGODB_URI"] == "mongodb://mongo.internal:27017/"


def test_an_empty_stack_mongodb_uri_means_the_default() -> None:
    assert StackConfig.from_env({"STACK_MONGODB_URI": ""}).stores == ("redis", "ferretdb")
