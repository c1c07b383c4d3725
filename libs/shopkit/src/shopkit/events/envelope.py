"""The envelope every event travels in, whatever its type.

An event is JSON: `{id, type, version, occurredAt, producer, traceparent, data}`.
`id` is what consumers deduplicate on; `type` + `version` select the JSON
Schema in `events/schemas/` that `data` must satisfy; `traceparent` carries the
W3C trace context of the request that caused it.
"""

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class Event:
    type: str
    data: dict[str, Any]
    producer: str
    version: int = 1
    traceparent: str | None = None
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    occurred_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def to_doc(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "version": self.version,
            "occurredAt": self.occurred_at.isoformat(),
            "producer": self.producer,
            "traceparent": self.traceparent,
            "data": self.data,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_doc(), separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> "Event":
        return cls(
            id=str(doc["id"]),
            type=str(doc["type"]),
            version=int(doc["version"]),
            occurred_at=datetime.fromisoformat(doc["occurredAt"]),
            producer=str(doc["producer"]),
            traceparent=doc.get("traceparent"),
            data=dict(doc["data"]),
        )

    @classmethod
    def from_json(cls, raw: str | bytes) -> "Event":
        return cls.from_doc(json.loads(raw))


def stream_for(producer: str) -> str:
    """Each service publishes to one stream named after itself."""
    return f"shopgraph.events.{producer}"
