"""The base of every service's settings: environment variables, with local defaults.

Each service declares one `Settings` class in its `config.py`, on one of these
bases; nothing else reads the environment. pydantic-settings fills each field
from the variable of the same name in capitals (`mongodb_uri` from
`MONGODB_URI`), converts and validates it, and says which variable is wrong
when one is. Keyword arguments, as tests pass them, override the environment.
"""

from typing import Annotated

from pydantic import BeforeValidator, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shopkit.http import QueryLimits


def _empty_is_none(value: object) -> object:
    return None if value == "" else value


# A variable set to "" means "not set" (compose files pass empty values through).
OptionalText = Annotated[str | None, BeforeValidator(_empty_is_none)]


class ServiceSettings(BaseSettings):
    """What every service reads: where to listen, what to log, how large a query may be."""

    model_config = SettingsConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    host: str = "127.0.0.1"
    port: int = Field(ge=1, le=65535)
    log_level: str = "INFO"
    access_log: bool = False
    # Enforced in every subgraph (the free router cannot); see shopkit.http.QueryLimits.
    graphql_max_depth: int = Field(default=12, ge=1)
    graphql_max_aliases: int = Field(default=30, ge=1)
    graphql_max_tokens: int = Field(default=4000, ge=1)
    # GraphQL requests worked on at once; the rest wait their turn (shopkit.admission).
    graphql_concurrency: int = Field(default=4, ge=1)
    # The OTLP/HTTP base URL spans are exported to (e.g. http://127.0.0.1:4318); unset: no tracing.
    tracing_endpoint: OptionalText = None

    @property
    def query_limits(self) -> QueryLimits:
        return QueryLimits(
            max_depth=self.graphql_max_depth,
            max_aliases=self.graphql_max_aliases,
            max_tokens=self.graphql_max_tokens,
        )


class MongoServiceSettings(ServiceSettings):
    """A service on MongoDB (users, orders, payments), which may be the embedded FerretDB."""

    mongodb_uri: str = "mongodb://127.0.0.1:27017/"
    mongodb_database: str
    # The PostgreSQL database behind the embedded FerretDB (unset on MongoDB).
    ferretdb_postgresql_url: OptionalText = None
    # Write connections; each document's writes go through one of them (shopkit.mongo.MongoDB).
    mongodb_write_connections: int = Field(default=4, ge=1)
