"""Settings of the payments service, read from environment variables."""

import os
from dataclasses import dataclass

SERVICE = "payments"
DEFAULT_PORT = 4003


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
    # Keys the HMAC that fingerprints cards in idempotency records. Set a secret
    # in production; changing it only makes in-flight idempotency keys mismatch.
    card_fingerprint_key: str = "shopgraph-local-card-fingerprint-key"
    # payOrder may arrive before the order.placed event: wait this long for it.
    order_wait_seconds: float = 2.0
    # A duplicate payOrder waits this long for the first one to finish.
    idempotency_wait_seconds: float = 10.0
    # Idempotency keys are kept at least 24 h; older than this they are purged.
    idempotency_retention_days: float = 7.0
    # A charge left PENDING this long was interrupted (a crash) and is recovered.
    stale_payment_seconds: float = 60.0
    # A charge gets this long at the processor; must be less than stale_payment_seconds,
    # so recovery never settles a charge a request is still waiting on.
    charge_timeout_seconds: float = 20.0
    maintenance_interval_seconds: float = 30.0
    # Keys live for days: purging them hourly is plenty, and the purge (a range on
    # createdAt) is the one periodic query that reads its whole collection on FerretDB.
    idempotency_purge_interval_seconds: float = 3600.0
    # Every write hands the outbox relay the payment's id; the sweep only catches
    # events left behind by a crash.
    outbox_sweep_seconds: float = 30.0

    def __post_init__(self) -> None:
        if not 0 < self.charge_timeout_seconds < self.stale_payment_seconds:
            raise ValueError(
                "CHARGE_TIMEOUT_SECONDS must be positive and less than STALE_PAYMENT_SECONDS, so that "
                "recovery never settles a charge a request is still waiting on"
            )
        if self.idempotency_retention_days < 1:
            raise ValueError(
                "idempotency keys must be kept at least 24 hours (IDEMPOTENCY_RETENTION_DAYS >= 1)"
            )

    @classmethod
    def from_env(cls) -> "Settings":
        defaults = cls()
        env = os.environ
        return cls(
            mongodb_uri=env.get("MONGODB_URI", defaults.mongodb_uri),
            mongodb_database=env.get("MONGODB_DATABASE", defaults.mongodb_database),
            ferretdb_postgresql_url=env.get("FERRETDB_POSTGRESQL_URL") or None,
            mongodb_write_connections=int(
                env.get("MONGODB_WRITE_CONNECTIONS", defaults.mongodb_write_connections)
            ),
            events_redis_url=env.get("EVENTS_REDIS_URL", defaults.events_redis_url),
            jwks_url=env.get("JWKS_URL", defaults.jwks_url),
            card_fingerprint_key=env.get("CARD_FINGERPRINT_KEY", defaults.card_fingerprint_key),
            order_wait_seconds=float(env.get("ORDER_WAIT_SECONDS", defaults.order_wait_seconds)),
            idempotency_wait_seconds=float(
                env.get("IDEMPOTENCY_WAIT_SECONDS", defaults.idempotency_wait_seconds)
            ),
            idempotency_retention_days=float(
                env.get("IDEMPOTENCY_RETENTION_DAYS", defaults.idempotency_retention_days)
            ),
            stale_payment_seconds=float(env.get("STALE_PAYMENT_SECONDS", defaults.stale_payment_seconds)),
            charge_timeout_seconds=float(env.get("CHARGE_TIMEOUT_SECONDS", defaults.charge_timeout_seconds)),
            maintenance_interval_seconds=float(
                env.get("MAINTENANCE_INTERVAL_SECONDS", defaults.maintenance_interval_seconds)
            ),
            outbox_sweep_seconds=float(env.get("OUTBOX_SWEEP_SECONDS", defaults.outbox_sweep_seconds)),
            idempotency_purge_interval_seconds=float(
                env.get("IDEMPOTENCY_PURGE_INTERVAL_SECONDS", defaults.idempotency_purge_interval_seconds)
            ),
        )
