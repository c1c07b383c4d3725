"""Opaque cursors for `first`/`after` pagination: they name the last item of the previous page."""

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime

from shopkit.errors import BadUserInput

MAX_PAGE_SIZE = 100


@dataclass(frozen=True)
class Cursor:
    created_at: datetime
    id: str

    def encode(self) -> str:
        raw = json.dumps([self.created_at.isoformat(), self.id]).encode()
        return base64.urlsafe_b64encode(raw).decode()

    @classmethod
    def decode(cls, value: str) -> "Cursor":
        try:
            created_at, id_ = json.loads(base64.urlsafe_b64decode(value.encode()))
            return cls(created_at=datetime.fromisoformat(created_at), id=str(id_))
        except (binascii.Error, ValueError, TypeError, UnicodeDecodeError) as error:
            raise BadUserInput("'after' is not a cursor this API returned.", field="after") from error


def page_size(first: int) -> int:
    if not 1 <= first <= MAX_PAGE_SIZE:
        raise BadUserInput(f"'first' must be between 1 and {MAX_PAGE_SIZE}.", field="first")
    return first
