"""The payments subgraph: Payment, payOrder/refundPayment, and what it adds to Order and User."""

from datetime import UTC, datetime
from typing import Any

import strawberry

from payments import processor
from payments.context import Info
from payments.loaders import PageKey
from payments.rules import PayRequest, check_idempotency_key, check_refund_amount, order_not_known_yet
from payments.store import CHARGED, OrderRef, PaymentRecord, PaymentStatus
from shopkit.auth import require_admin, require_owner, require_principal
from shopkit.history import bucket_of
from shopkit.http import QueryLimits, schema_extensions
from shopkit.pagination import Cursor, page_size
from shopkit.types import Money, PageInfo

DEFAULT_PAGE_SIZE = 20


# The stored statuses are the API's enum: Strawberry marks that very class as a GraphQL enum.
strawberry.enum(
    PaymentStatus, description="Where a payment is in its life: PENDING while the card is being charged."
)


@strawberry.type(description="All that is kept of the card a payment was made with.")
class CardSummary:
    brand: str = strawberry.field(description="visa, mastercard, amex, discover or unknown.")
    last4: str


@strawberry.federation.type(keys=["id"])
class User:
    id: strawberry.ID

    @strawberry.field
    async def payments(
        self, info: Info, first: int | None = DEFAULT_PAGE_SIZE, after: str | None = None
    ) -> "PaymentConnection":
        require_owner(info.context.principal(), str(self.id), "user's payment history")
        limit = page_size(DEFAULT_PAGE_SIZE if first is None else first)
        cursor = Cursor.decode(after) if after is not None else None
        found = await info.context.loaders.payment_page.load(PageKey(str(self.id), limit + 1, cursor))
        nodes = [Payment.from_record(payment) for payment in found[:limit]]
        end_cursor = Cursor(created_at=nodes[-1].created_at, id=str(nodes[-1].id)).encode() if nodes else None
        return PaymentConnection(
            nodes=nodes, page_info=PageInfo(has_next_page=len(found) > limit, end_cursor=end_cursor)
        )

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> "User":
        return cls(id=id)


async def paid_of(root: "Order", info: Info) -> tuple[int, Money]:
    """What the order's captured payments hold (refunds deducted), and its total.

    Only an order's customer pays it, so its payments say whose it is: the
    caller must be their payer or an ADMIN, and an order with no payments
    (or one payments has not learnt of yet) has nothing paid and shows no one's
    data. The total is the orders service's, passed in the representation
    (@requires); only a client asking payments directly without it makes
    payments read its projection of the order."""
    principal = require_principal(info.context.principal())
    order_id = str(root.id)
    payments = await info.context.loaders.payments_of_order.load(root.ref)
    for payment in payments:
        require_owner(principal, payment.payer_id, "order")
    paid = sum(p.amount.amount - p.refunded_amount for p in payments if p.status in CHARGED)
    if root.total is not None:
        return paid, root.total
    order = await info.context.loaders.order_by_id.load(order_id)
    if order is None:
        raise order_not_known_yet(order_id)
    require_owner(principal, order.customer_id, "order")
    return paid, Money(amount=order.total.amount, currency=order.total.currency)


async def order_payments(root: "Order", info: Info) -> list["Payment"]:
    principal = require_principal(info.context.principal())
    payments = await info.context.loaders.payments_of_order.load(root.ref)
    # Only an order's customer pays it, so its payments say whose it is: no need
    # to read the projection (one lookup per order of a page, on FerretDB).
    for payment in payments:
        require_owner(principal, payment.payer_id, "order")
    return [Payment.from_record(payment) for payment in payments]


async def amount_paid(root: "Order", info: Info) -> Money:
    paid, total = await paid_of(root, info)
    return Money(amount=paid, currency=total.currency)


async def balance_due(root: "Order", info: Info) -> Money:
    paid, total = await paid_of(root, info)
    return Money(amount=max(total.amount - paid, 0), currency=total.currency)


# What the router passes of an order, from orders, for the fields below that need it.
ORDER_REQUIRES = "total { amount currency } customer { id } customerSequence"


@strawberry.federation.type(keys=["id"])
class Order:
    id: strawberry.ID
    # The three are owned by orders (non-null there) and set only in the representations
    # the router sends for the fields that require them.
    total: Money | None = strawberry.federation.field(external=True, default=None, graphql_type=Money)
    customer: User | None = strawberry.federation.field(external=True, default=None, graphql_type=User)
    customer_sequence: int | None = strawberry.federation.field(external=True, default=None, graphql_type=int)

    @property
    def ref(self) -> OrderRef:
        """The order for the payments loader: with its customer's history bucket when the router
        passed its place there (payments groups what it keeps by that bucket)."""
        if self.customer is None or self.customer_sequence is None:
            return OrderRef(order_id=str(self.id))
        bucket = bucket_of(str(self.customer.id), self.customer_sequence)
        return OrderRef(order_id=str(self.id), bucket=bucket)

    payments: list["Payment"] = strawberry.federation.field(
        resolver=order_payments, requires=[ORDER_REQUIRES]
    )
    amount_paid: Money = strawberry.federation.field(
        resolver=amount_paid,
        requires=[ORDER_REQUIRES],
        description="What its captured payments hold, refunds deducted.",
    )
    balance_due: Money = strawberry.federation.field(
        resolver=balance_due,
        requires=[ORDER_REQUIRES],
        description="What remains to be paid: total minus amountPaid, never below zero.",
    )

    @classmethod
    def resolve_reference(
        cls,
        id: strawberry.ID,
        total: dict[str, Any] | None = None,
        customer: dict[str, Any] | None = None,
        customerSequence: int | None = None,  # noqa: N803 - the representation's field name
    ) -> "Order":
        # Each field checks who may see what it shows; checking here too would read
        # the projection of every order of a page even for `payments` alone.
        return cls(
            id=id,
            total=Money.from_doc(total) if total else None,
            customer=User(id=strawberry.ID(customer["id"])) if customer else None,
            customer_sequence=customerSequence,
        )


@strawberry.federation.type(keys=["id"], description="One attempt to charge a card for an order.")
class Payment:
    id: strawberry.ID
    amount: Money
    status: PaymentStatus
    card: CardSummary | None
    failure_reason: str | None = strawberry.field(
        description="Why the processor declined: card_declined, insufficient_funds, ..."
    )
    refunded_amount: Money
    created_at: datetime
    updated_at: datetime
    order_id: strawberry.Private[str]
    payer_id: strawberry.Private[str]

    @strawberry.field
    def order(self) -> Order:
        return Order(id=strawberry.ID(self.order_id))

    @strawberry.field
    def payer(self) -> User:
        return User(id=strawberry.ID(self.payer_id))

    @classmethod
    def from_record(cls, payment: PaymentRecord) -> "Payment":
        currency = payment.amount.currency
        card = payment.card
        return cls(
            id=strawberry.ID(payment.id),
            amount=Money(amount=payment.amount.amount, currency=currency),
            status=payment.status,
            card=CardSummary(brand=card.brand, last4=card.last4) if card else None,
            failure_reason=payment.failure_reason,
            refunded_amount=Money(amount=payment.refunded_amount, currency=currency),
            created_at=payment.created_at,
            updated_at=payment.updated_at,
            order_id=payment.order_id,
            payer_id=payment.payer_id,
        )

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> "Payment | None":
        return await visible_payment(info, str(id))


async def visible_payment(info: Info, payment_id: str) -> Payment | None:
    principal = require_principal(info.context.principal())
    payment = await info.context.loaders.payment_by_id.load(payment_id)
    if payment is None:
        return None
    require_owner(principal, payment.payer_id, "payment")
    return Payment.from_record(payment)


@strawberry.type
class PaymentConnection:
    nodes: list[Payment]
    page_info: PageInfo


@strawberry.input
class CardInput:
    number: str = strawberry.field(
        description="12 to 19 digits. Test cards: 4242424242424242 is approved, 4000000000000002 "
        "declined (card_declined), 4000000000009995 declined (insufficient_funds)."
    )
    exp_month: int
    exp_year: int = strawberry.field(description="Four digits, e.g. 2030.")
    cvc: str


@strawberry.input
class PayOrderInput:
    order_id: strawberry.ID
    card: CardInput
    idempotency_key: str = strawberry.field(
        description="8 to 100 characters, unique per payment attempt: retrying with the same key "
        "and input returns the same payment and never charges twice."
    )


@strawberry.type
class Query:
    @strawberry.field
    async def payment(self, info: Info, id: strawberry.ID) -> Payment | None:
        return await visible_payment(info, str(id))


@strawberry.type
class Mutation:
    @strawberry.mutation
    async def pay_order(self, info: Info, input: PayOrderInput) -> Payment:
        payer = require_principal(info.context.principal())
        request = PayRequest(
            order_id=str(input.order_id),
            card=processor.parse_card(
                input.card.number,
                input.card.exp_month,
                input.card.exp_year,
                input.card.cvc,
                now=datetime.now(UTC),
            ),
            idempotency_key=check_idempotency_key(input.idempotency_key),
        )
        payment = await info.context.payments.pay_order(payer, request, info.context.traceparent)
        return Payment.from_record(payment)

    @strawberry.mutation
    async def refund_payment(self, info: Info, id: strawberry.ID, amount: int | None = None) -> Payment:
        require_admin(info.context.principal())
        payment = await info.context.payments.refund(
            str(id), check_refund_amount(amount), info.context.traceparent
        )
        return Payment.from_record(payment)


def build_schema(limits: QueryLimits) -> strawberry.federation.Schema:
    """The schema, enforcing these query limits (the service's settings give them)."""
    return strawberry.federation.Schema(
        query=Query,
        mutation=Mutation,
        types=[Payment, Order, User],
        extensions=schema_extensions(limits),
        federation_version="2.11",
    )


# The SDL does not depend on the limits: this is what `strawberry export-schema` reads.
schema = build_schema(QueryLimits())
