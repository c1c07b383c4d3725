"""The orders subgraph: Product and Order (owned), User.orders (contributed), and mutations."""

import uuid
from datetime import datetime

import strawberry

from orders import events, rules
from orders.context import Info
from orders.loaders import OrdersPageKey
from orders.store import HistoryEntry, OrderLine, OrderRecord, OrderStatus, ProductRecord, utc_now
from shopkit.auth import require_admin, require_owner, require_principal
from shopkit.errors import Conflict, NotFound
from shopkit.http import QueryLimits, schema_extensions
from shopkit.pagination import Cursor, page_size
from shopkit.records import Amount
from shopkit.types import Address, AddressInput, Money, PageInfo

DEFAULT_PAGE_SIZE = 20

# Makes the stored status enum a GraphQL enum (strawberry.enum marks the class in place).
strawberry.enum(OrderStatus, description="Where an order is in its lifecycle.")


@strawberry.federation.type(keys=["sku"], description="A product of the catalog, at its current price.")
class Product:
    sku: strawberry.ID
    name: str
    price: Money

    @classmethod
    def from_record(cls, product: ProductRecord) -> "Product":
        return cls(sku=strawberry.ID(product.sku), name=product.name, price=_money(product.price))

    @classmethod
    def resolve_reference(cls, info: Info, sku: strawberry.ID) -> "Product | None":
        product = info.context.catalog.product(str(sku))
        return None if product is None else cls.from_record(product)


@strawberry.type(description="A line of an order, priced when the order was placed.")
class OrderItem:
    sku: strawberry.Private[str]
    name: strawberry.Private[str]
    quantity: int
    unit_price: Money

    @strawberry.field
    def line_total(self) -> Money:
        return Money(amount=self.unit_price.amount * self.quantity, currency=self.unit_price.currency)

    @strawberry.field(description="The product as the catalog has it now.")
    def product(self, info: Info) -> Product:
        product = info.context.catalog.product(self.sku)
        if product is None:  # withdrawn from the catalog since: show it as it was sold
            return Product(sku=strawberry.ID(self.sku), name=self.name, price=self.unit_price)
        return Product.from_record(product)

    @classmethod
    def from_record(cls, line: OrderLine) -> "OrderItem":
        return cls(
            sku=line.sku,
            name=line.name,
            quantity=line.quantity,
            unit_price=_money(line.unit_price),
        )


@strawberry.type(description="A status an order reached, when, and the event that moved it there.")
class OrderHistoryEntry:
    status: OrderStatus
    at: datetime
    event: str | None

    @classmethod
    def from_record(cls, entry: HistoryEntry) -> "OrderHistoryEntry":
        return cls(status=entry.status, at=entry.at, event=entry.event)


@strawberry.federation.type(
    keys=["id"], description="A customer's order. Visible to its customer and ADMINs."
)
class Order:
    id: strawberry.ID
    number: str = strawberry.field(description="Human-friendly, unique order number, e.g. SG-000123.")
    status: OrderStatus
    items: list[OrderItem]
    total: Money
    shipping_address: Address
    created_at: datetime
    updated_at: datetime
    history: list[OrderHistoryEntry] = strawberry.field(
        description="Every status the order reached, oldest first, with the event that moved it there."
    )
    customer_id: strawberry.Private[str]
    customer_sequence: int = strawberry.federation.field(
        inaccessible=True,
        description=(
            "Its place among its customer's orders, 1 for their first. Not in the API: payments "
            "groups what it keeps per order by it, so a page of orders is a few lookups there."
        ),
    )

    @strawberry.field
    def customer(self) -> "User":
        return User(id=strawberry.ID(self.customer_id))

    @classmethod
    def from_record(cls, order: OrderRecord) -> "Order":
        return cls(
            id=strawberry.ID(order.id),
            number=order.number,
            status=order.status,
            items=[OrderItem.from_record(item) for item in order.items],
            total=_money(order.total),
            shipping_address=Address.from_doc(order.shipping_address),
            created_at=order.created_at,
            updated_at=order.updated_at,
            history=[OrderHistoryEntry.from_record(entry) for entry in order.history],
            customer_id=order.customer_id,
            customer_sequence=order.customer_seq,
        )

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> "Order | None":
        return await _visible_order(info, str(id))


@strawberry.type
class OrderConnection:
    nodes: list[Order]
    page_info: PageInfo


@strawberry.federation.type(keys=["id"])
class User:
    id: strawberry.ID

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> "User":
        return cls(id=id)

    @strawberry.field(description="The customer's orders, newest first (the customer or an ADMIN only).")
    async def orders(
        self, info: Info, first: int | None = DEFAULT_PAGE_SIZE, after: str | None = None
    ) -> OrderConnection:
        require_owner(info.context.auth.principal(), str(self.id), "order history")
        key = OrdersPageKey(
            customer_id=str(self.id),
            first=page_size(DEFAULT_PAGE_SIZE if first is None else first),
            after=Cursor.decode(after) if after is not None else None,
        )
        page = await info.context.loaders.customer_orders.load(key)
        last = page.orders[-1] if page.orders else None
        end_cursor = Cursor(created_at=last.created_at, id=last.id).encode() if last else None
        return OrderConnection(
            nodes=[Order.from_record(order) for order in page.orders],
            page_info=PageInfo(has_next_page=page.has_next_page, end_cursor=end_cursor),
        )


@strawberry.input
class OrderItemInput:
    sku: strawberry.ID
    quantity: int


@strawberry.input
class PlaceOrderInput:
    items: list[OrderItemInput]
    shipping_address: AddressInput


async def _visible_order(info: Info, order_id: str) -> Order | None:
    principal = require_principal(info.context.auth.principal())
    order = await info.context.loaders.orders.load(order_id)
    if order is None:
        return None
    require_owner(principal, order.customer_id, "order")
    return Order.from_record(order)


@strawberry.type
class Query:
    @strawberry.field(description="The catalog; no sign-in needed.")
    def products(self, info: Info) -> list[Product]:
        return [Product.from_record(product) for product in info.context.catalog.products()]

    @strawberry.field(description="An order by id, for its customer or an ADMIN; null if there is none.")
    async def order(self, info: Info, id: strawberry.ID) -> Order | None:
        return await _visible_order(info, str(id))


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description=(
            "Places an order for the signed-in customer at catalog prices. At most 50 lines; lines "
            "naming the same SKU are merged, and each SKU's quantity must be within 1..100."
        )
    )
    async def place_order(self, info: Info, input: PlaceOrderInput) -> Order:
        context = info.context
        principal = require_principal(context.auth.principal())
        lines = rules.merge_lines(
            [rules.Line(sku=str(item.sku), quantity=item.quantity) for item in input.items]
        )
        shipping_address = input.shipping_address.to_doc()
        priced = rules.price(lines, context.catalog.priced([line.sku for line in lines]))
        # Everything is valid: from here on we write.
        order = rules.new_order(
            order_id=uuid.uuid4().hex,
            number=rules.order_number(await context.store.next_order_sequence()),
            customer_id=principal.user_id,
            customer_seq=await context.store.next_customer_position(principal.user_id),
            priced=priced,
            shipping_address=shipping_address,
            now=utc_now(),
        )
        await context.store.insert_order(order, events.order_placed(order, context.traceparent))
        return Order.from_record(order)

    @strawberry.mutation(
        description=(
            "Cancels an order that has not shipped (its customer or an ADMIN); "
            "a captured payment is then refunded."
        )
    )
    async def cancel_order(self, info: Info, id: strawberry.ID) -> Order:
        context = info.context
        principal = require_principal(context.auth.principal())
        order = await context.loaders.orders.load(str(id))
        if order is None:
            raise NotFound(f"There is no order {id}.")
        require_owner(principal, order.customer_id, "order")
        rules.check_cancellable(order.number, order.status)
        now = utc_now()
        event = events.order_cancelled(order.id, order.customer_id, now, context.traceparent)
        entry = HistoryEntry(status=OrderStatus.CANCELLED, at=now, event=event.type, event_id=event.id)
        cancelled = await context.store.cancel_order(order.id, rules.CANCELLABLE, entry, event, now)
        if cancelled is None:
            # The order moved on (shipped, or cancelled by a concurrent request) since we read it.
            current = await context.store.order_state(order.id)
            rules.check_cancellable(order.number, order.status if current is None else current.status)
            raise Conflict(f"Order {order.number} changed meanwhile; try again.")
        return Order.from_record(cancelled)

    # Not in the API schema: only delivery calls it, on this subgraph, with the ADMIN's token
    # of the carrier update that is about to move the order's parcel IN_TRANSIT.
    @strawberry.federation.mutation(
        inaccessible=True,
        description=(
            "Marks an order SHIPPED (ADMIN only): delivery asks before its parcel goes IN_TRANSIT. "
            "A cancelled order is a CONFLICT; a shipped or delivered one is answered unchanged."
        ),
    )
    async def ship_order(self, info: Info, id: strawberry.ID) -> Order:
        context = info.context
        require_admin(context.auth.principal())
        order = await context.loaders.orders.load(str(id))
        if order is None:
            raise NotFound(f"There is no order {id}.")
        rules.check_shippable(order.number, order.status)
        if order.status in rules.SHIPPED_ALREADY:
            return Order.from_record(order)
        now = utc_now()
        entry = HistoryEntry(status=OrderStatus.SHIPPED, at=now, event="shipOrder")
        shipped = await context.store.ship_order(order.id, rules.SHIPPABLE, entry, now)
        if shipped is not None:
            return Order.from_record(shipped)
        # Cancelled, or shipped by a concurrent request, since we read it: decide on what it is now.
        current = (await context.store.orders_by_id([order.id]))[order.id]
        rules.check_shippable(current.number, current.status)
        if current.status not in rules.SHIPPED_ALREADY:
            raise Conflict(f"Order {order.number} changed meanwhile; try again.")
        return Order.from_record(current)


def _money(amount: Amount) -> Money:
    return Money(amount=amount.amount, currency=amount.currency)


def build_schema(limits: QueryLimits) -> strawberry.federation.Schema:
    """The schema, enforcing these query limits (the service's settings give them)."""
    return strawberry.federation.Schema(
        query=Query,
        mutation=Mutation,
        types=[Order, Product, User],
        extensions=schema_extensions(limits),
        federation_version="2.11",
    )


# The SDL does not depend on the limits: this is what `strawberry export-schema` reads.
schema = build_schema(QueryLimits())
