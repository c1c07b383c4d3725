"""Values the Mongo-backed services' stores hand out and take, stored alike by each of them."""

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Amount:
    """Money: integer minor units of a currency."""

    amount: int
    currency: str

    def to_doc(self) -> dict[str, Any]:
        return {"amount": self.amount, "currency": self.currency}

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> "Amount":
        return cls(amount=int(doc["amount"]), currency=str(doc["currency"]))


# A postal address as stored: line1, line2 (or None), city, postalCode, country
# (shopkit.types.AddressInput.to_doc checks it, shopkit.types.Address shows it).
StoredAddress = dict[str, str | None]
