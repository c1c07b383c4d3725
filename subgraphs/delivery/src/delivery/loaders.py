"""Per-request DataLoaders: every load in one tick becomes one batched store call."""

from collections.abc import Iterable

from strawberry.dataloader import DataLoader

from delivery.store import DeliveryRecord, DeliveryStore, TrackedDelivery, TrackingEntry


class Loaders:
    def __init__(self, store: DeliveryStore) -> None:
        self._store = store
        self.delivery = DataLoader[str, DeliveryRecord | None](load_fn=store.deliveries)
        self.delivery_for_order = DataLoader[str, DeliveryRecord | None](load_fn=self._for_orders)
        self.deliveries_for_recipient = DataLoader[str, list[DeliveryRecord]](load_fn=self._for_recipients)
        self.tracking_events = DataLoader[str, list[TrackingEntry]](load_fn=store.tracking_events)

    async def delivery_for_tracking_number(self, tracking_number: str) -> DeliveryRecord | None:
        """Not batched: public tracking asks for one parcel per request."""
        tracked = await self._store.tracked_delivery(tracking_number)
        self._remember_tracked([] if tracked is None else [tracked])
        return None if tracked is None else tracked.delivery

    async def _for_orders(self, order_ids: list[str]) -> list[DeliveryRecord | None]:
        found = await self._store.order_deliveries(order_ids)
        self._remember_tracked([tracked for tracked in found if tracked is not None])
        return [None if tracked is None else tracked.delivery for tracked in found]

    async def _for_recipients(self, user_ids: list[str]) -> list[list[DeliveryRecord]]:
        record_lists = await self._store.deliveries_for_recipients(user_ids)
        self._remember(record for records in record_lists for record in records)
        return record_lists

    def _remember_tracked(self, read: list[TrackedDelivery]) -> None:
        """As `_remember`, and their events, read with them, need no round trip of their own."""
        self._remember(tracked.delivery for tracked in read)
        for tracked in read:
            self.tracking_events.prime(tracked.delivery.id, tracked.events)

    def _remember(self, records: Iterable[DeliveryRecord]) -> None:
        """Later loads of the same deliveries by id are answered without Redis."""
        for record in records:
            self.delivery.prime(record.id, record)
