"""A running implementation of the delivery service, and how to talk to it over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import redis

from contract.implementations import Implementation
from contract.processes import Process, RedisServer, free_port, spawn, wait_until_ready
from contract.tokens import Caller

# As in every deployment: the store and the event streams on two databases (they may be two servers).
STORE_DB = 1
EVENTS_DB = 0


@dataclass
class Delivery:
    implementation: Implementation
    base_url: str
    redis_server: RedisServer
    process: Process

    @property
    def graphql_url(self) -> str:
        return f"{self.base_url}/graphql"

    def store(self) -> redis.Redis:
        return self.redis_server.client(STORE_DB)

    def events(self) -> redis.Redis:
        return self.redis_server.client(EVENTS_DB)

    def post(
        self, query: str, variables: dict[str, Any] | None = None, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        return httpx.post(
            self.graphql_url, json={"query": query, "variables": variables or {}}, headers=headers, timeout=30
        )

    def graphql(
        self, query: str, variables: dict[str, Any] | None = None, caller: Caller | None = None
    ) -> dict[str, Any]:
        """The response body of one operation; asserts HTTP 200, which GraphQL errors are answered with."""
        response = self.post(query, variables, caller.headers if caller else None)
        assert response.status_code == 200, f"HTTP {response.status_code}: {response.text}"
        body: dict[str, Any] = response.json()
        return body


@contextmanager
def running_delivery(
    implementation: Implementation,
    redis_server: RedisServer,
    jwks_url: str,
    orders_url: str,
    log_dir: Path,
    name: str = "",
) -> Iterator[Delivery]:
    implementation.check_built()
    port = free_port()
    environment = {
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "REDIS_URL": redis_server.url(STORE_DB),
        "EVENTS_REDIS_URL": redis_server.url(EVENTS_DB),
        "JWKS_URL": jwks_url,
        # Asked to confirm a shipment: the suite's stand-in for orders (orders.py).
        "ORDERS_URL": orders_url,
        "LOG_LEVEL": "INFO",
        # The relay publishes what its own process wrote at once; what another left, at its sweep.
        "OUTBOX_SWEEP_SECONDS": "1",
    }
    process = spawn(
        name or f"delivery-{implementation.name}", implementation.command, log_dir=log_dir, env=environment
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(process, f"{base_url}/health/ready")
        yield Delivery(implementation, base_url, redis_server, process)
    finally:
        process.stop()
