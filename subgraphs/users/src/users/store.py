"""All access to the `users` collection: the only module that talks to MongoDB.

A user document:
`{_id, email, name, role, passwordHash, addresses: [{line1, line2, city, postalCode, country}], createdAt}`.
`email` is stored normalised (see credentials.normalise_email) and unique.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError

from shopkit.auth import Role
from shopkit.metrics import store_call
from shopkit.mongo import Collection, Document, MongoDB
from shopkit.types import utc

MAX_ADDRESSES = 20
# Every field a document is looked up by with equality (docs/architecture.md, "Query shapes").
EQUALITY_FIELDS = {"users": ("_id", "email")}


class EmailTaken(Exception):
    """Another account already uses this (normalised) email."""


class AddressBookFull(Exception):
    """The user already has MAX_ADDRESSES addresses."""


@dataclass(frozen=True)
class UserRecord:
    id: str
    email: str
    name: str
    role: Role
    password_hash: str
    created_at: datetime
    addresses: list[Document] = field(default_factory=list)

    @classmethod
    def from_doc(cls, doc: Document) -> "UserRecord":
        return cls(
            id=doc["_id"],
            email=doc["email"],
            name=doc["name"],
            role=Role(doc["role"]),
            password_hash=doc["passwordHash"],
            created_at=utc(doc["createdAt"]),
            addresses=list(doc.get("addresses", [])),
        )


def new_user_id() -> str:
    return uuid.uuid4().hex


def now() -> datetime:
    """The current time at the millisecond precision MongoDB stores."""
    moment = datetime.now(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


class UserStore:
    """All access to the `users` collection.

    Every write of a user goes through that user's write connection
    (`shopkit.mongo.MongoDB.writes_for`: the embedded store's updates are
    atomic only within one connection); reads use the pool.
    """

    def __init__(self, mongo: MongoDB) -> None:
        self._mongo = mongo
        self._users: Collection = mongo.reads["users"]

    def _writes(self, user_id: str) -> Collection:
        """`users` on the write connection of this user (shopkit.mongo.MongoDB.writes_for)."""
        return self._mongo.writes_for(user_id)["users"]

    async def open(self) -> None:
        """Connects to the server and creates every index (safe to run at every start)."""
        await self._mongo.open(EQUALITY_FIELDS)
        await self._mongo.writes.users.create_index([("email", ASCENDING)], unique=True, name="email_unique")

    async def close(self) -> None:
        await self._mongo.close()

    @store_call
    async def insert(self, *, email: str, name: str, role: Role, password_hash: str) -> UserRecord:
        """Creates an account; raises EmailTaken if the email is in use, even by a racing insert."""
        record = UserRecord(
            id=new_user_id(),
            email=email,
            name=name,
            role=role,
            password_hash=password_hash,
            created_at=now(),
        )
        try:
            await self._writes(record.id).insert_one(
                {
                    "_id": record.id,
                    "email": record.email,
                    "name": record.name,
                    "role": record.role.value,
                    "passwordHash": record.password_hash,
                    "addresses": record.addresses,
                    "createdAt": record.created_at,
                }
            )
        except DuplicateKeyError as error:
            raise EmailTaken(email) from error
        return record

    @store_call
    async def find_by_email(self, email: str) -> UserRecord | None:
        doc = await self._users.find_one({"email": email})
        return None if doc is None else UserRecord.from_doc(doc)

    @store_call
    async def find_by_ids(self, ids: Sequence[str]) -> dict[str, UserRecord]:
        """The users with these ids, in one call whatever their number."""
        found = await self._mongo.find_by_ids(self._users, ids)
        return {user_id: UserRecord.from_doc(doc) for user_id, doc in found.items()}

    @store_call
    async def add_address(self, user_id: str, address: Document) -> UserRecord | None:
        """Adds the address unless an identical one is there; None if the user does not exist.

        Raises AddressBookFull when the user already has MAX_ADDRESSES others.
        The size check and the addition are one atomic update, so concurrent
        additions cannot overshoot the cap.
        """
        doc = await self._writes(user_id).find_one_and_update(
            {"_id": user_id, f"addresses.{MAX_ADDRESSES - 1}": {"$exists": False}},
            {"$addToSet": {"addresses": address}},
            return_document=ReturnDocument.AFTER,
        )
        if doc is not None:
            return UserRecord.from_doc(doc)
        existing = await self._users.find_one({"_id": user_id})
        if existing is None:
            return None
        record = UserRecord.from_doc(existing)
        if address in record.addresses:
            return record  # already there: adding it again changes nothing
        raise AddressBookFull(user_id)

    @store_call
    async def update_credentials(
        self, user_id: str, *, role: Role | None = None, password_hash: str | None = None
    ) -> None:
        changes: dict[str, Any] = {}
        if role is not None:
            changes["role"] = role.value
        if password_hash is not None:
            changes["passwordHash"] = password_hash
        if changes:
            await self._writes(user_id).update_one({"_id": user_id}, {"$set": changes})
