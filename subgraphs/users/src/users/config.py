"""Settings of the users service, read from environment variables with local defaults."""

import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    mongodb_uri: str = "mongodb://127.0.0.1:27017/"
    mongodb_database: str = "users"
    # The PostgreSQL database behind the embedded FerretDB (unused on MongoDB).
    ferretdb_postgresql_url: str | None = None
    # Writes share this many connections; keep 1 on FerretDB (see shopkit.mongo.MongoDB).
    mongodb_write_pool_size: int = 1
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

    def __post_init__(self) -> None:
        if self.jwt_ttl_seconds <= 0:
            raise ValueError("JWT_TTL_SECONDS must be a positive number of seconds.")

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
            mongodb_write_pool_size=int(
                env("MONGODB_WRITE_POOL_SIZE", str(defaults.mongodb_write_pool_size))
            ),
            jwt_private_key_file=Path(env("JWT_PRIVATE_KEY_FILE", str(defaults.jwt_private_key_file))),
            jwt_ttl_seconds=int(env("JWT_TTL_SECONDS", str(defaults.jwt_ttl_seconds))),
            admin_email=env("ADMIN_EMAIL", defaults.admin_email),
            admin_password=env("ADMIN_PASSWORD", defaults.admin_password),
            demo_customer_email=env("DEMO_CUSTOMER_EMAIL", defaults.demo_customer_email),
            demo_customer_password=env("DEMO_CUSTOMER_PASSWORD", defaults.demo_customer_password),
            password_hash_profile=env("PASSWORD_HASH_PROFILE", defaults.password_hash_profile),
        )
