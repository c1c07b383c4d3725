"""GraphQL value types that several subgraphs define identically (@shareable)."""

from datetime import UTC, datetime
from typing import Any

import pycountry
import strawberry
from strawberry.federation.schema_directives import Shareable

from shopkit.errors import BadUserInput


@strawberry.type(directives=[Shareable()], description="An amount of money in minor units (cents).")
class Money:
    amount: int
    currency: str

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> "Money":
        return cls(amount=int(doc["amount"]), currency=str(doc["currency"]))

    def to_doc(self) -> dict[str, Any]:
        return {"amount": self.amount, "currency": self.currency}


@strawberry.type(directives=[Shareable()], description="A postal address; country is ISO 3166-1 alpha-2.")
class Address:
    line1: str
    line2: str | None
    city: str
    postal_code: str
    country: str

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> "Address":
        return cls(
            line1=doc["line1"],
            line2=doc.get("line2"),
            city=doc["city"],
            postal_code=doc["postalCode"],
            country=doc["country"],
        )


@strawberry.input
class AddressInput:
    line1: str
    line2: str | None = None
    city: str
    postal_code: str
    country: str

    def to_doc(self) -> dict[str, Any]:
        """The address as stored, after checking every field."""
        country = self.country.strip().upper()
        if len(country) != 2 or pycountry.countries.get(alpha_2=country) is None:
            raise BadUserInput(
                f"'{self.country}' is not an ISO 3166-1 alpha-2 country code.", field="country"
            )
        return {
            "line1": _required_text(self.line1, "line1"),
            "line2": _optional_text(self.line2, "line2"),
            "city": _required_text(self.city, "city"),
            "postalCode": _required_text(self.postal_code, "postalCode", limit=16),
            "country": country,
        }


@strawberry.type(directives=[Shareable()])
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


def _required_text(value: str, field: str, limit: int = 200) -> str:
    text = value.strip()
    if not text:
        raise BadUserInput(f"{field} must not be empty.", field=field)
    if len(text) > limit:
        raise BadUserInput(f"{field} must be at most {limit} characters.", field=field)
    return text


def _optional_text(value: str | None, field: str) -> str | None:
    if value is None or not value.strip():
        return None
    return _required_text(value, field)


def utc(moment: datetime) -> datetime:
    """MongoDB returns naive datetimes; everything we serve is explicit UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
