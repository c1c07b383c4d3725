"""Settings of the payments service, read from environment variables (shopkit.settings)."""

from typing import Self

from pydantic import Field, model_validator

from shopkit.settings import MongoServiceSettings

SERVICE = "payments"


class Settings(MongoServiceSettings):
    port: int = 4003
    mongodb_database: str = SERVICE
    events_redis_url: str = "redis://127.0.0.1:6379/0"
    jwks_url: str = "http://127.0.0.1:4001/.well-known/jwks.json"
    # Keys the HMAC that fingerprints cards in idempotency records. Set a secret
    # in production; changing it only makes in-flight idempotency keys mismatch.
    card_fingerprint_key: str = "shopgraph-local-card-fingerprint-key"
    # payOrder may arrive before the order.placed event: wait this long for it.
    order_wait_seconds: float = Field(default=2.0, ge=0)
    # A duplicate payOrder waits this long for the first one to finish.
    idempotency_wait_seconds: float = Field(default=10.0, ge=0)
    # Idempotency keys are kept at least 24 h; older than this they are purged.
    idempotency_retention_days: float = 7.0
    # A charge left PENDING this long was interrupted (a crash) and is recovered.
    stale_payment_seconds: float = 60.0
    # A charge gets this long at the processor; must be less than stale_payment_seconds,
    # so recovery never settles a charge a request is still waiting on.
    charge_timeout_seconds: float = 20.0
    maintenance_interval_seconds: float = Field(default=30.0, gt=0)
    # Keys live for days: purging them hourly is plenty, and the purge (a range on
    # createdAt) is the one periodic query that reads its whole collection on FerretDB.
    idempotency_purge_interval_seconds: float = Field(default=3600.0, gt=0)
    # Every write hands the outbox relay the payment's id; the sweep only catches
    # events left behind by a crash.
    outbox_sweep_seconds: float = Field(default=30.0, gt=0)

    @model_validator(mode="after")
    def _check(self) -> Self:
        if not 0 < self.charge_timeout_seconds < self.stale_payment_seconds:
            raise ValueError(
                "CHARGE_TIMEOUT_SECONDS must be positive and less than STALE_PAYMENT_SECONDS, so that "
                "recovery never settles a charge a request is still waiting on"
            )
        if self.idempotency_retention_days < 1:
            raise ValueError(
                "idempotency keys must be kept at least 24 hours (IDEMPOTENCY_RETENTION_DAYS >= 1)"
            )
        return self
