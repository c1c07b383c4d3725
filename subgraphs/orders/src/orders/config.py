"""Settings of the orders service, read from environment variables (shopkit.settings)."""

from pydantic import Field

from shopkit.settings import MongoServiceSettings

SERVICE = "orders"


class Settings(MongoServiceSettings):
    port: int = 4002
    mongodb_database: str = SERVICE
    events_redis_url: str = "redis://127.0.0.1:6379/0"
    jwks_url: str = "http://127.0.0.1:4001/.well-known/jwks.json"
    # placeOrder/cancelOrder hand the relay the order's id, so their events leave at
    # once; the sweep only catches events left behind (a crash, Redis down).
    outbox_sweep_seconds: float = Field(default=30.0, gt=0)
