"""Settings of the users service, read from environment variables with local defaults."""

import os
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


@dataclass(frozen=True)
class Settings:
    mongodb_uri: str = "mongodb://127.0.0.1:27017/"
    mongodb_database: str = "users"
    # The PostgreSQL database behind the embedded FerretDB (unused on MongoDB).
    ferretdb_postgresql_url: str | None = None
    # Write connections; each document's writes go through one of them (shopkit.mongo.MongoDB).
    mongodb_write_connections: int = 4
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
    password_hash_concurrency: int = field(default_factory=available_cores)
    # Sign-in throttling (users.throttle): failed sign-ins counted per account and per
    # client address over a moving window, in this Redis, shared by every process.
    login_redis_url: str = "redis://127.0.0.1:6379/0"
    login_max_failures_per_account: int = 10
    login_max_failures_per_address: int = 100
    login_failure_window_seconds: int = 900
    # Prefixes every throttling key in Redis (deployments sharing one Redis keep apart).
    login_limit_key_prefix: str = "shopgraph:users:login"

    def __post_init__(self) -> None:
        if self.jwt_ttl_seconds <= 0:
            raise ValueError("JWT_TTL_SECONDS must be a positive number of seconds.")
        if self.password_hash_concurrency <= 0:
            raise ValueError("PASSWORD_HASH_CONCURRENCY must be at least 1.")
        if self.login_failure_window_seconds <= 0:
            raise ValueError("LOGIN_FAILURE_WINDOW_SECONDS must be a positive number of seconds.")
        if self.login_max_failures_per_account < 0 or self.login_max_failures_per_address < 0:
            raise ValueError("LOGIN_MAX_FAILURES_PER_ACCOUNT/_PER_ADDRESS must be 0 (no limit) or more.")

    @property
    def token_ttl(self) -> timedelta:
        return timedelta(seconds=self.jwt_ttl_seconds)

    @classmethod
    def from_env(cls) -> "Settings":
        defaults = cls()
        env = os.environ.get
        return cls(
            mongodb_uri=env("MONGODB_URI", defaults.mongodb_uri),
            mongodb_database=env("MONGODB_DATABASE", defaults.mongodb_database),
            ferretdb_postgresql_url=env("FERRETDB_POSTGRESQL_URL") or None,
            mongodb_write_connections=int(
                env("MONGODB_WRITE_CONNECTIONS", str(defaults.mongodb_write_connections))
            ),
            jwt_private_key_file=Path(env("JWT_PRIVATE_KEY_FILE", str(defaults.jwt_private_key_file))),
            jwt_ttl_seconds=int(env("JWT_TTL_SECONDS", str(defaults.jwt_ttl_seconds))),
            admin_email=env("ADMIN_EMAIL", defaults.admin_email),
            admin_password=env("ADMIN_PASSWORD", defaults.admin_password),
            demo_customer_email=env("DEMO_CUSTOMER_EMAIL", defaults.demo_customer_email),
            demo_customer_password=env("DEMO_CUSTOMER_PASSWORD", defaults.demo_customer_password),
            password_hash_profile=env("PASSWORD_HASH_PROFILE", defaults.password_hash_profile),
            password_hash_concurrency=int(
                env("PASSWORD_HASH_CONCURRENCY", str(defaults.password_hash_concurrency))
            ),
            # The events Redis unless sign-in has one of its own.
            login_redis_url=env("LOGIN_REDIS_URL") or env("EVENTS_REDIS_URL") or defaults.login_redis_url,
            login_max_failures_per_account=int(
                env("LOGIN_MAX_FAILURES_PER_ACCOUNT", str(defaults.login_max_failures_per_account))
            ),
            login_max_failures_per_address=int(
                env("LOGIN_MAX_FAILURES_PER_ADDRESS", str(defaults.login_max_failures_per_address))
            ),
            login_failure_window_seconds=int(
                env("LOGIN_FAILURE_WINDOW_SECONDS", str(defaults.login_failure_window_seconds))
            ),
            login_limit_key_prefix=env("LOGIN_LIMIT_KEY_PREFIX", defaults.login_limit_key_prefix),
        )
