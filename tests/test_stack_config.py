"""scripts/stack.py's settings: which stores `make up` starts, and which MongoDB the services use."""

from stack import StackConfig


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
