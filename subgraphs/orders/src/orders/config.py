"""Settings of the orders service, read from environment variables."""

import os
from collections.abc import Mapping
from dataclasses import dataclass

SERVICE = "orders"
DEFAULT_PORT = 4002


@dataclass(frozen=True)
class Settings:
    mongodb_uri: str = "mongodb://127.0.0.1:27017/"
    mongodb_database: str = SERVICE
    # The PostgreSQL database behind the embedded FerretDB (unused on MongoDB).
    ferretdb_postgresql_url: str | None = None
    # Write connections; each document's writes go through one of them (shopkit.mongo.MongoDB).
    mongodb_write_connections: int = 4
    events_redis_url: str = "redis://127.0.0.1:6379/0"
    jwks_url: str = "http://127.0.0.1:4001/.well-known/jwks.json"
    # placeOrder/cancelOrder hand the relay the order's id, so their events leave at
    # once; the sweep only catches events left behind (a crash, Redis down).
    outbox_sweep_seconds: float = 30.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> "Settings":
        defaults = cls()
        return cls(
            mongodb_uri=env.get("MONGODB_URI", defaults.mongodb_uri),
            mongodb_database=env.get("MONGODB_DATABASE", defaults.mongodb_database),
            ferretdb_postgresql_url=env.get("FERRETDB_POSTGRESQL_URL") or None,
            mongodb_write_connections=int(
                env.get("MONGODB_WRITE_CONNECTIONS", str(defaults.mongodb_write_connections))
            ),
            events_redis_url=env.get("EVENTS_REDIS_URL", defaults.events_redis_url),
            jwks_url=env.get("JWKS_URL", defaults.jwks_url),
            outbox_sweep_seconds=float(env.get("OUTBOX_SWEEP_SECONDS", str(defaults.outbox_sweep_seconds))),
        )
