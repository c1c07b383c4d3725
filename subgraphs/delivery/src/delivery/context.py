"""The per-request context every resolver sees as `info.context`."""

from dataclasses import dataclass

from delivery.loaders import Loaders
from delivery.store import DeliveryStore
from shopkit.context import RequestAuth


@dataclass(frozen=True)
class Context:
    auth: RequestAuth
    loaders: Loaders
    store: DeliveryStore
    traceparent: str | None
