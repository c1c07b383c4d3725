"""Settings from environment variables, with defaults for a local stack."""

import os
from dataclasses import dataclass

DEFAULT_PORT = 4004


@dataclass(frozen=True)
class Settings:
    redis_url: str = "redis://127.0.0.1:6379/1"
    events_redis_url: str = "redis://127.0.0.1:6379/0"
    jwks_url: str = "http://127.0.0.1:4001/.well-known/jwks.json"
    # Every change hands the relay its event at once; the sweep only catches events
    # left behind (a crash, Redis down).
    outbox_sweep_seconds: float = 30.0

    @classmethod
    def from_env(cls) -> "Settings":
        return cls(
            redis_url=os.environ.get("REDIS_URL", cls.redis_url),
            events_redis_url=os.environ.get("EVENTS_REDIS_URL", cls.events_redis_url),
            jwks_url=os.environ.get("JWKS_URL", cls.jwks_url),
            outbox_sweep_seconds=float(os.environ.get("OUTBOX_SWEEP_SECONDS", str(cls.outbox_sweep_seconds))),
        )
