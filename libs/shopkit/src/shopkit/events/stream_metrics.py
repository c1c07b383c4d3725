"""What a stream's consumer groups have not done yet, read from Redis for /metrics.

The producer of a stream reports these (its outbox relay registers the probe):
it runs while a consuming service is down, which is when the numbers matter.
Per consumer group of the stream:
- `shopgraph_consumer_lag`: entries not yet delivered to the group (XINFO
  GROUPS `lag`; left out when Redis cannot tell, e.g. after an XDEL);
- `shopgraph_consumer_pending`: entries delivered but not acknowledged;
- `shopgraph_dead_letters`: the length of `<stream>.dead.<group>`, and of
  `<stream>.dead.outbox` (group="outbox") for the relay's own.
One XINFO GROUPS and one pipelined XLEN per group, whatever the streams' lengths.
"""

from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from shopkit.events.streams import dead_letter_stream
from shopkit.metrics import Reading

# The dead letters of the outbox relay are filed under this pseudo-group.
OUTBOX_GROUP = "outbox"


async def consumer_groups(redis: Redis, stream: str) -> list[dict[str, Any]]:
    """XINFO GROUPS of the stream; none while the stream does not exist."""
    try:
        return await redis.xinfo_groups(stream)
    except ResponseError as error:
        if "no such key" in str(error).lower():
            return []
        raise


async def stream_readings(redis: Redis, stream: str) -> list[Reading]:
    groups = await consumer_groups(redis, stream)
    readings: list[Reading] = []
    for group in groups:
        labels = {"stream": stream, "group": str(group["name"])}
        if group.get("lag") is not None:
            readings.append(Reading("shopgraph_consumer_lag", labels, float(group["lag"])))
        readings.append(Reading("shopgraph_consumer_pending", labels, float(group["pending"])))

    dead_groups = [*(str(group["name"]) for group in groups), OUTBOX_GROUP]
    lengths = redis.pipeline(transaction=False)
    for group_name in dead_groups:
        lengths.xlen(dead_letter_stream(stream, group_name))
    for group_name, length in zip(dead_groups, await lengths.execute(), strict=True):
        labels = {"stream": stream, "group": group_name}
        readings.append(Reading("shopgraph_dead_letters", labels, float(length)))
    return readings
