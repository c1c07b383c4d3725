"""Waking the requests that wait for an order projection, the moment this process records it.

A payOrder can arrive before payments has consumed the order's `order.placed`
(docs/architecture.md, "Errors"). It waits up to `ORDER_WAIT_SECONDS` for the
projection. Polling the store for it made every waiting request a steady load
on the store, and under many shoppers that load slowed down the very consumer
it was waiting for. Instead, the consumer calls `recorded(order_id)` once the
projection is written, and the waiters read the store again only then.

A slow poll stays as the fallback: with a real MongoDB several payments
processes may run, and another one may have consumed the event.
"""

import asyncio
import contextlib
from collections.abc import Iterable, Iterator

# How often a waiter reads the store without having been woken.
FALLBACK_POLL_SECONDS = 0.5


class OrderArrivals:
    """Who waits for which order projection in this process."""

    def __init__(self) -> None:
        self._waiting: dict[str, set[asyncio.Event]] = {}

    def waiting_for(self) -> set[str]:
        """The orders somebody in this process waits for."""
        return set(self._waiting)

    def recorded(self, order_id: str) -> None:
        """The projection of this order has just been written."""
        for arrived in self._waiting.get(order_id, ()):
            arrived.set()

    @contextlib.contextmanager
    def watching(self, order_ids: Iterable[str]) -> Iterator[asyncio.Event]:
        """An event set whenever one of these orders is recorded, for the duration of the block.

        Enter it before the first read of the store, so that a projection
        written between that read and the wait is not missed.
        """
        arrived = asyncio.Event()
        ids = set(order_ids)
        for order_id in ids:
            self._waiting.setdefault(order_id, set()).add(arrived)
        try:
            yield arrived
        finally:
            for order_id in ids:
                waiters = self._waiting[order_id]
                waiters.discard(arrived)
                if not waiters:
                    del self._waiting[order_id]
