"""Settings of the users service, read from environment variables (shopkit.settings)."""

import os
from datetime import timedelta
from pathlib import Path

from pydantic import AliasChoices, Field, field_validator

from shopkit.settings import MongoServiceSettings

SERVICE = "users"


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class Settings(MongoServiceSettings):
    port: int = 4001
    mongodb_database: str = SERVICE
    # Relative paths resolve against the working directory the service starts in.
    jwt_private_key_file: Path = Path("var/keys/jwt-ed25519.pem")
    jwt_ttl_seconds: int = 3600
    admin_email: str = "admin@shopgraph.local"
    admin_password: str = "admin-password-change-me"
    demo_customer_email: str = "customer@shopgraph.local"
    demo_customer_password: str = "customer-password"
    # An argon2.profiles name; stored hashes made with other parameters are
    # re-hashed at the user's next sign-in.
    password_hash_profile: str = "RFC_9106_LOW_MEMORY"
    # At most this many argon2 hashes or verifications run at once (the rest wait their
    # turn), so sign-ins cannot take more than the cores; one per core by default.
    password_hash_concurrency: int = Field(default_factory=available_cores)
    # Sign-in throttling (users.throttle): failed sign-ins counted per account and per
    # client address over a moving window, in this Redis, shared by every process.
    # The events Redis unless sign-in has one of its own.
    login_redis_url: str = Field(
        default="redis://127.0.0.1:6379/0",
        validation_alias=AliasChoices("LOGIN_REDIS_URL", "EVENTS_REDIS_URL"),
    )
    login_max_failures_per_account: int = 10
    login_max_failures_per_address: int = 100
    login_failure_window_seconds: int = 900
    # Prefixes every throttling key in Redis (deployments sharing one Redis keep apart).
    login_limit_key_prefix: str = "shopgraph:users:login"

    @field_validator("jwt_ttl_seconds")
    @classmethod
    def _positive_ttl(cls, value: int) -> int:
        if value <= 0:
            raise ValueError("JWT_TTL_SECONDS must be a positive number of seconds.")
        return value

    @field_validator("password_hash_concurrency")
    @classmethod
    def _some_hashing(cls, value: int) -> int:
        if value <= 0:
            raise ValueError("PASSWORD_HASH_CONCURRENCY must be at least 1.")
        return value

    @field_validator("login_failure_window_seconds")
    @classmethod
    def _positive_window(cls, value: int) -> int:
        if value <= 0:
            raise ValueError("LOGIN_FAILURE_WINDOW_SECONDS must be a positive number of seconds.")
        return value

    @field_validator("login_max_failures_per_account", "login_max_failures_per_address")
    @classmethod
    def _limit_or_none(cls, value: int) -> int:
        if value < 0:
            raise ValueError("LOGIN_MAX_FAILURES_PER_ACCOUNT/_PER_ADDRESS must be 0 (no limit) or more.")
        return value

    @property
    def token_ttl(self) -> timedelta:
        return timedelta(seconds=self.jwt_ttl_seconds)
