"""The HTTP surface around the schema: health, readiness of both Redis connections, metrics."""

import httpx
import pytest
from asgi_lifespan import LifespanManager

from delivery.app import create_app
from delivery.config import Settings
from shopkit.auth import TokenVerifier

from .conftest import graphql
from .test_queries import TRACK


async def test_live_and_ready(client: httpx.AsyncClient) -> None:
    assert (await client.get("/health/live")).status_code == 200
    ready = await client.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ready",
        "checks": {
            "redis": True,
            "events": True,
            "worker:delivery-outbox-relay": True,
            "worker:delivery-consumer": True,
        },
    }


async def test_not_ready_when_the_events_redis_is_down(settings: Settings, verifier: TokenVerifier) -> None:
    unreachable = Settings(
        redis_url=settings.redis_url,
        events_redis_url="redis://127.0.0.1:1/0",
        jwks_url=settings.jwks_url,
    )
    app = create_app(unreachable, verifier=verifier)
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://delivery") as client,
    ):
        ready = await client.get("/health/ready")
    assert ready.status_code == 503
    checks = ready.json()["checks"]
    assert (checks["redis"], checks["events"]) == (True, False)


async def test_metrics_count_store_round_trips(client: httpx.AsyncClient) -> None:
    await graphql(client, TRACK, {"number": "SGAAAAAAAAAAAAAAAA"})
    metrics = (await client.get("/metrics")).text
    assert 'shopgraph_store_commands_total{command="SCRIPT indexed-deliveries",store="redis"}' in metrics


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://store:6379/1")
    monkeypatch.setenv("EVENTS_REDIS_URL", "redis://events:6379/0")
    monkeypatch.setenv("JWKS_URL", "http://users:4001/.well-known/jwks.json")
    monkeypatch.setenv("OUTBOX_SWEEP_SECONDS", "5")
    assert Settings() == Settings(
        redis_url="redis://store:6379/1",
        events_redis_url="redis://events:6379/0",
        jwks_url="http://users:4001/.well-known/jwks.json",
        outbox_sweep_seconds=5.0,
    )
    monkeypatch.delenv("REDIS_URL")
    assert Settings().redis_url == "redis://127.0.0.1:6379/1"
