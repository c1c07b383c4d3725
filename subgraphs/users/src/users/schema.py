"""The users subgraph: User (entity), Role, sign-up, sign-in and addresses."""

from datetime import datetime

import strawberry

from shopkit.auth import Role, require_owner, require_principal
from shopkit.errors import Conflict, NotFound
from shopkit.http import QueryLimits, schema_extensions
from shopkit.types import Address, AddressInput
from users import rules
from users.context import Context, Info
from users.store import MAX_ADDRESSES, AddressBookFull, UserRecord

# The token's role enum is the GraphQL enum too: one definition, no mapping between them.
strawberry.enum(Role, description="What a user may do: CUSTOMER sees their own data, ADMIN all.")


@strawberry.federation.type(keys=["id"], description="A person with an account in the shop.")
class User:
    id: strawberry.ID
    email: str
    name: str
    role: Role
    addresses: list[Address]
    created_at: datetime

    @classmethod
    def from_record(cls, record: UserRecord) -> "User":
        return cls(
            id=strawberry.ID(record.id),
            email=record.email,
            name=record.name,
            role=record.role,
            addresses=[Address.from_doc(address) for address in record.addresses],
            created_at=record.created_at,
        )

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> "User":
        """Order.customer, Payment.payer and Delivery.recipient resolve here, batched."""
        require_owner(info.context.auth.principal(), str(id), "user")
        record = await info.context.loaders.user_by_id.load(str(id))
        if record is None:
            raise NotFound(f"No user has the id '{id}'.")
        return cls.from_record(record)


@strawberry.type(description="A signed-in session: a bearer token and whose it is.")
class AuthPayload:
    token: str = strawberry.field(description="Send as 'Authorization: Bearer <token>'.")
    user: User


@strawberry.input
class RegisterInput:
    email: str
    name: str
    password: str = strawberry.field(description="8 to 128 characters.")


@strawberry.type
class Query:
    @strawberry.field(description="The signed-in user; null without a token.")
    async def me(self, info: Info) -> User | None:
        principal = info.context.auth.principal()
        if principal is None:
            return None
        record = await info.context.loaders.user_by_id.load(principal.user_id)
        return None if record is None else User.from_record(record)

    @strawberry.field(description="A user by id: yourself, or anyone for an ADMIN; null if there is none.")
    async def user(self, info: Info, id: strawberry.ID) -> User | None:
        require_owner(info.context.auth.principal(), str(id), "user")
        record = await info.context.loaders.user_by_id.load(str(id))
        return None if record is None else User.from_record(record)


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Creates a CUSTOMER account and signs it in.")
    async def register(self, info: Info, input: RegisterInput) -> AuthPayload:
        context = info.context
        record = await rules.register(
            context.store, context.passwords, email=input.email, name=input.name, password=input.password
        )
        return _signed_in(context, record)

    @strawberry.mutation(description="Signs in with email and password.")
    async def login(self, info: Info, email: str, password: str) -> AuthPayload:
        context = info.context
        record = await rules.sign_in(
            context.store,
            context.passwords,
            context.throttle,
            email=email,
            password=password,
            client_address=context.client_address,
        )
        return _signed_in(context, record)

    @strawberry.mutation(
        description=f"Adds an address to the signed-in user's address book (at most {MAX_ADDRESSES})."
    )
    async def add_address(self, info: Info, input: AddressInput) -> User:
        principal = require_principal(info.context.auth.principal())
        address = input.to_doc()
        try:
            record = await info.context.store.add_address(principal.user_id, address)
        except AddressBookFull as error:
            raise Conflict(
                f"The address book is full ({MAX_ADDRESSES} addresses).", field="addresses"
            ) from error
        if record is None:
            raise NotFound("The signed-in account no longer exists.")
        return User.from_record(record)


def _signed_in(context: Context, record: UserRecord) -> AuthPayload:
    token = context.signer.issue(record.id, record.role, ttl=context.token_ttl)
    return AuthPayload(token=token, user=User.from_record(record))


def build_schema(limits: QueryLimits) -> strawberry.federation.Schema:
    """The schema, enforcing these query limits (the service's settings give them)."""
    return strawberry.federation.Schema(
        query=Query,
        mutation=Mutation,
        types=[User],
        extensions=schema_extensions(limits),
        federation_version="2.11",
    )


# The SDL does not depend on the limits: this is what `strawberry export-schema` reads.
schema = build_schema(QueryLimits())
