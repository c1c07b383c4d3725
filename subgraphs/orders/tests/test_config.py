"""Settings come from the environment, with local defaults."""

import pytest

from orders.config import Settings

VARIABLES = (
    "MONGODB_URI",
    "MONGODB_DATABASE",
    "MONGODB_WRITE_CONNECTIONS",
    "EVENTS_REDIS_URL",
    "JWKS_URL",
    "OUTBOX_SWEEP_SECONDS",
)


def test_defaults_are_the_local_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    settings = Settings()
    assert settings.mongodb_uri == "mongodb://127.0.0.1:27017/"
    assert settings.mongodb_database == "orders"
    assert settings.mongodb_write_connections == 4
    assert settings.events_redis_url == "redis://127.0.0.1:6379/0"
    assert settings.jwks_url == "http://127.0.0.1:4001/.well-known/jwks.json"


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    environment = {
        "MONGODB_URI": "mongodb://mongo:27017/",
        "MONGODB_DATABASE": "orders_eu",
        "MONGODB_WRITE_CONNECTIONS": "8",
        "EVENTS_REDIS_URL": "redis://redis:6379/0",
        "JWKS_URL": "http://users:4001/.well-known/jwks.json",
        "OUTBOX_SWEEP_SECONDS": "0.5",
    }
    for variable, value in environment.items():
        monkeypatch.setenv(variable, value)
    settings = Settings()
    for variable in VARIABLES:
        monkeypatch.delenv(variable)
    assert settings == Settings(
        mongodb_uri="mongodb://mongo:27017/",
        mongodb_database="orders_eu",
        mongodb_write_connections=8,
        events_redis_url="redis://redis:6379/0",
        jwks_url="http://users:4001/.well-known/jwks.json",
        outbox_sweep_seconds=0.5,
    )
