"""Redis connections: the event backbone, and the delivery service's store."""

from redis.asyncio import Redis


def connect(url: str) -> Redis:
    return Redis.from_url(url, decode_responses=True, socket_connect_timeout=3, health_check_interval=10)


async def is_ready(redis: Redis) -> bool:
    try:
        return bool(await redis.ping())
    except Exception:  # noqa: BLE001 - any failure means "not ready"
        return False
