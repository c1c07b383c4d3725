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
from shopkit.mongo import Collection, Database, Document, any_of
from shopkit.types import utc

MAX_ADDRESSES = 20


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

    Writes go through `writes`, a client with few connections (one on FerretDB,
    whose updates are only atomic within one connection); reads use a pool.
    """

    def __init__(self, *, reads: Database, writes: Database) -> None:
        self._users: Collection = reads["users"]
        self._user_writes: Collection = writes["users"]

    async def create_indexes(self) -> None:
        await self._user_writes.create_index([("email", ASCENDING)], unique=True, name="email_unique")

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
            await self._user_writes.insert_one(
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

    async def find_by_email(self, email: str) -> UserRecord | None:
        doc = await self._users.find_one({"email": email})
        return None if doc is None else UserRecord.from_doc(doc)

    async def find_by_ids(self, ids: Sequence[str]) -> dict[str, UserRecord]:
        """The users with these ids, in one query whatever their number."""
        if not ids:
            return {}
        unique_ids = list(dict.fromkeys(ids))
        # At most one match per id: with the limit as the batch size the server
        # answers in one reply and closes the cursor (no getMore, no killCursors).
        cursor = self._users.find(
            any_of("_id", unique_ids), limit=len(unique_ids), batch_size=len(unique_ids)
        )
        return {doc["_id"]: UserRecord.from_doc(doc) async for doc in cursor}

    async def add_address(self, user_id: str, address: Document) -> UserRecord | None:
        """Adds the address unless an identical one is there; None if the user does not exist.

        Raises AddressBookFull when the user already has MAX_ADDRESSES others.
        The size check and the addition are one atomic update, so concurrent
        additions cannot overshoot the cap.
        """
        doc = await self._user_writes.find_one_and_update(
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

    async def update_credentials(
        self, user_id: str, *, role: Role | None = None, password_hash: str | None = None
    ) -> None:
        changes: dict[str, Any] = {}
        if role is not None:
            changes["role"] = role.value
        if password_hash is not None:
            changes["passwordHash"] = password_hash
        if changes:
            await self._user_writes.update_one({"_id": user_id}, {"$set": changes})
