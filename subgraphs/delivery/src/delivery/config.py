"""Settings of the delivery service, read from environment variables (shopkit.settings)."""

from pydantic import Field

from shopkit.settings import ServiceSettings


class Settings(ServiceSettings):
    port: int = 4004
    redis_url: str = "redis://127.0.0.1:6379/1"
    events_redis_url: str = "redis://127.0.0.1:6379/0"
    jwks_url: str = "http://127.0.0.1:4001/.well-known/jwks.json"
    # The orders subgraph itself (not the router): shipOrder is not in the API schema.
    orders_url: str = "http://127.0.0.1:4002/graphql"
    # Every change hands the relay its event at once; the sweep only catches events
    # left behind (a crash, Redis down).
    outbox_sweep_seconds: float = Field(default=30.0, gt=0)
