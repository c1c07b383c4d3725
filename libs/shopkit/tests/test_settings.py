"""A service's settings: each field from the variable of its name, converted, validated; arguments win."""

import pytest
from pydantic import ValidationError

from shopkit.http import QueryLimits
from shopkit.settings import MongoServiceSettings


class ExampleSettings(MongoServiceSettings):
    port: int = 4999
    mongodb_database: str = "example"
    sweep_seconds: float = 30.0


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ExampleSettings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)


def test_defaults_are_the_local_stack() -> None:
    settings = ExampleSettings()

    assert (settings.host, settings.port, settings.access_log) == ("127.0.0.1", 4999, False)
    assert settings.mongodb_uri == "mongodb://127.0.0.1:27017/"
    assert settings.ferretdb_postgresql_url is None
    assert settings.query_limits == QueryLimits(max_depth=12, max_aliases=30, max_tokens=4000)


def test_variables_are_read_and_converted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "4100")
    monkeypatch.setenv("ACCESS_LOG", "1")
    monkeypatch.setenv("SWEEP_SECONDS", "0.5")
    monkeypatch.setenv("GRAPHQL_MAX_DEPTH", "8")
    monkeypatch.setenv("FERRETDB_POSTGRESQL_URL", "postgresql://postgres@127.0.0.1:27018/postgres")

    settings = ExampleSettings()

    assert (settings.port, settings.access_log, settings.sweep_seconds) == (4100, True, 0.5)
    assert settings.query_limits.max_depth == 8
    assert settings.ferretdb_postgresql_url == "postgresql://postgres@127.0.0.1:27018/postgres"


def test_an_empty_variable_means_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FERRETDB_POSTGRESQL_URL", "")

    assert ExampleSettings().ferretdb_postgresql_url is None


def test_arguments_override_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONGODB_URI", "mongodb://from-the-environment:27017/")

    assert ExampleSettings(mongodb_uri="mongodb://given:27017/").mongodb_uri == "mongodb://given:27017/"


def test_a_bad_value_names_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONGODB_WRITE_CONNECTIONS", "0")

    with pytest.raises(ValidationError, match="mongodb_write_connections"):
        ExampleSettings()


def test_a_misspelt_argument_is_refused() -> None:
    with pytest.raises(ValidationError, match="mongo_uri"):
        ExampleSettings(mongo_uri="mongodb://typo:27017/")  # type: ignore[call-arg]
