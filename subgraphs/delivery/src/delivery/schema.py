"""The delivery subgraph: Delivery and its tracking, plus Order.delivery and User.deliveries.

Who sees what:
- `delivery(id)`, `Order.delivery` and `Delivery` entity references: the
  recipient or an ADMIN, FORBIDDEN for anyone else.
- `User.deliveries`: that user or an ADMIN.
- `trackDelivery(trackingNumber)` needs no token: whoever holds the unguessable
  tracking number sees the parcel's progress (status, carrier, dates, tracking
  events). The recipient's personal data (`recipient`, `address`) still needs
  the recipient's or an ADMIN's token; anyone else gets FORBIDDEN on that field.
"""

from datetime import UTC, datetime

import strawberry

from delivery.context import Info
from delivery.events import delivery_status_changed
from delivery.rules import NEEDS_ORDERS_CONFIRMATION, DeliveryStatus, check_carrier_move
from delivery.store import DeliveryRecord, TrackingEntry
from shopkit.auth import Principal, require_admin, require_owner, require_principal
from shopkit.errors import BadUserInput, NotFound
from shopkit.http import QueryLimits, schema_extensions
from shopkit.types import Address

MAX_NOTE_LENGTH = 500

# The store's enum is the GraphQL enum: strawberry.enum marks the class in place.
strawberry.enum(
    DeliveryStatus,
    description="SCHEDULED → IN_TRANSIT → DELIVERED; SCHEDULED or IN_TRANSIT → FAILED; "
    "SCHEDULED → CANCELLED when the order is cancelled.",
)


@strawberry.type(description="One step of a delivery's progress.")
class TrackingEvent:
    status: DeliveryStatus
    at: datetime
    note: str | None

    @classmethod
    def from_entry(cls, entry: TrackingEntry) -> "TrackingEvent":
        return cls(status=entry.status, at=entry.at.astimezone(UTC), note=entry.note)


@strawberry.federation.type(keys=["id"])
class Order:
    id: strawberry.ID

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> "Order":
        return cls(id=id)

    @strawberry.field(description="The order's delivery; null until its payment is captured.")
    async def delivery(self, info: Info) -> "Delivery | None":
        principal = require_principal(info.context.auth.principal())
        record = await info.context.loaders.delivery_for_order.load(str(self.id))
        return None if record is None else Delivery.visible_to(principal, record)


@strawberry.federation.type(keys=["id"])
class User:
    id: strawberry.ID

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> "User":
        return cls(id=id)

    @strawberry.field(description="The user's deliveries, newest first (the user or an ADMIN).")
    async def deliveries(self, info: Info) -> list["Delivery"]:
        require_owner(info.context.auth.principal(), str(self.id), "account")
        records = await info.context.loaders.deliveries_for_recipient.load(str(self.id))
        return [Delivery.from_record(record) for record in records]


@strawberry.federation.type(keys=["id"], description="The shipment of one paid order.")
class Delivery:
    id: strawberry.ID
    status: DeliveryStatus
    carrier: str
    tracking_number: str
    estimated_delivery: datetime | None
    updated_at: datetime
    record: strawberry.Private[DeliveryRecord]

    @classmethod
    def from_record(cls, record: DeliveryRecord) -> "Delivery":
        return cls(
            id=strawberry.ID(record.id),
            status=record.status,
            carrier=record.carrier,
            tracking_number=record.tracking_number,
            estimated_delivery=None
            if record.estimated_delivery is None
            else record.estimated_delivery.astimezone(UTC),
            updated_at=record.updated_at.astimezone(UTC),
            record=record,
        )

    @classmethod
    def visible_to(cls, principal: Principal | None, record: DeliveryRecord) -> "Delivery":
        """The delivery, if the caller is its recipient or an ADMIN; FORBIDDEN otherwise."""
        require_owner(principal, record.recipient_id, "delivery")
        return cls.from_record(record)

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> "Delivery | None":
        principal = require_principal(info.context.auth.principal())
        record = await info.context.loaders.delivery.load(str(id))
        return None if record is None else cls.visible_to(principal, record)

    @strawberry.field
    def order(self) -> Order:
        return Order(id=strawberry.ID(self.record.order_id))

    @strawberry.field(description="Who receives the parcel (the recipient or an ADMIN only).")
    def recipient(self, info: Info) -> User:
        require_owner(info.context.auth.principal(), self.record.recipient_id, "delivery")
        return User(id=strawberry.ID(self.record.recipient_id))

    @strawberry.field(description="Where the parcel goes (the recipient or an ADMIN only).")
    def address(self, info: Info) -> Address:
        require_owner(info.context.auth.principal(), self.record.recipient_id, "delivery")
        return Address.from_doc(self.record.address)

    @strawberry.field(description="The delivery's progress, oldest first.")
    async def events(self, info: Info) -> list[TrackingEvent]:
        entries = await info.context.loaders.tracking_events.load(self.record.id)
        return [TrackingEvent.from_entry(entry) for entry in entries]


@strawberry.type
class Query:
    @strawberry.field(description="A delivery by id (its recipient or an ADMIN).")
    async def delivery(self, info: Info, id: strawberry.ID) -> Delivery | None:
        principal = require_principal(info.context.auth.principal())
        record = await info.context.loaders.delivery.load(str(id))
        return None if record is None else Delivery.visible_to(principal, record)

    @strawberry.field(description="Public parcel tracking: no token needed; null for an unknown number.")
    async def track_delivery(self, info: Info, tracking_number: str) -> Delivery | None:
        record = await info.context.loaders.delivery_for_tracking_number(tracking_number.strip())
        return None if record is None else Delivery.from_record(record)


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Moves a delivery along its state machine (ADMIN only, standing in for the carrier). "
        "An illegal transition is a CONFLICT and changes nothing."
    )
    async def update_delivery_status(
        self, info: Info, id: strawberry.ID, status: DeliveryStatus, note: str | None = None
    ) -> Delivery:
        context = info.context
        require_admin(context.auth.principal())
        clean_note = _clean_note(note)
        traceparent = context.traceparent
        if status in NEEDS_ORDERS_CONFIRMATION:
            record = await context.loaders.delivery.load(str(id))
            if record is None:
                raise NotFound(f"There is no delivery '{id}'.")
            # Refuse what the store would refuse before orders is told the parcel ships.
            check_carrier_move(record.status, status)
            await context.orders.confirm_shipment(
                record.order_id, authorization=context.authorization, traceparent=traceparent
            )
        change = await context.store.change_status(
            str(id),
            status,
            note=clean_note,
            at=datetime.now(UTC),
            event_for=lambda change: delivery_status_changed(change, traceparent),
        )
        return Delivery.from_record(change.delivery)


def _clean_note(note: str | None) -> str | None:
    if note is None or not note.strip():
        return None
    text = note.strip()
    if len(text) > MAX_NOTE_LENGTH:
        raise BadUserInput(f"note must be at most {MAX_NOTE_LENGTH} characters.", field="note")
    return text


def build_schema(limits: QueryLimits) -> strawberry.federation.Schema:
    """The schema, enforcing these query limits (the service's settings give them)."""
    return strawberry.federation.Schema(
        query=Query,
        mutation=Mutation,
        types=[Order, User, Delivery],
        extensions=schema_extensions(limits),
        federation_version="2.11",
    )


# The SDL does not depend on the limits: this is what `strawberry export-schema` reads.
schema = build_schema(QueryLimits())
