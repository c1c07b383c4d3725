"""The simulated card processor, and the checks a card must pass before it is sent there.

Test cards (any future expiry, any 3-4 digit cvc):

| number             | outcome                                      |
|--------------------|----------------------------------------------|
| `4242424242424242` | approved                                     |
| `4000000000000002` | declined, reason `card_declined`             |
| `4000000000009995` | declined, reason `insufficient_funds`        |
| any other number passing the Luhn check | approved                |

Like a real acquirer, the processor is idempotent by `reference` (we pass the
payment id): charging the same reference twice returns the first outcome and
moves no money. It keeps an in-memory ledger of the charges it executed, which
is what "charged exactly once" is measured against.

Card numbers and cvcs live only in `CardDetails` for the duration of a
request; everything that is stored or logged is a `CardSummary` (brand, last4).
"""

import asyncio
import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import UTC, datetime

from shopkit.errors import BadUserInput

DECLINED_CARD = "4000000000000002"
INSUFFICIENT_FUNDS_CARD = "4000000000009995"
DECLINE_REASONS = {
    DECLINED_CARD: "card_declined",
    INSUFFICIENT_FUNDS_CARD: "insufficient_funds",
}


@dataclass(frozen=True)
class CardSummary:
    """All we ever keep of a card."""

    brand: str
    last4: str


@dataclass(frozen=True)
class CardDetails:
    """A card that passed every check. Never store, log or print it."""

    number: str = field(repr=False)
    exp_month: int
    exp_year: int
    cvc: str = field(repr=False)

    @property
    def summary(self) -> CardSummary:
        return CardSummary(brand=card_brand(self.number), last4=self.number[-4:])

    def fingerprint(self, key: bytes) -> str:
        """A keyed hash identifying the card (same card → same value) without revealing it.

        Keyed (HMAC) because a plain hash of a card number can be reversed by
        trying every number with the same prefix and last four digits.
        """
        message = f"{self.number}|{self.exp_month:02d}|{self.exp_year:04d}".encode()
        return hmac.new(key, message, hashlib.sha256).hexdigest()


def parse_card(number: str, exp_month: int, exp_year: int, cvc: str, *, now: datetime) -> CardDetails:
    """Checks a card as entered; raises BadUserInput naming the first problem."""
    if not number.isascii() or not number.isdigit() or not 12 <= len(number) <= 19:
        raise BadUserInput("The card number must be 12 to 19 digits, without spaces.", field="card.number")
    if not luhn_valid(number):
        raise BadUserInput("The card number is not valid (check digit mismatch).", field="card.number")
    if not 1 <= exp_month <= 12:
        raise BadUserInput("The expiry month must be between 1 and 12.", field="card.expMonth")
    if not 2000 <= exp_year <= 2099:
        raise BadUserInput("The expiry year must have four digits, e.g. 2030.", field="card.expYear")
    today = now.astimezone(UTC)
    if (exp_year, exp_month) < (today.year, today.month):
        raise BadUserInput("The card has expired.", field="card.expYear")
    if not cvc.isascii() or not cvc.isdigit() or not 3 <= len(cvc) <= 4:
        raise BadUserInput("The cvc must be 3 or 4 digits.", field="card.cvc")
    return CardDetails(number=number, exp_month=exp_month, exp_year=exp_year, cvc=cvc)


def luhn_valid(number: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(number)):
        digit = int(char)
        if position % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def card_brand(number: str) -> str:
    """The card network, from the number's issuer prefix."""
    if number.startswith("4"):
        return "visa"
    if number[:2] in {"34", "37"}:
        return "amex"
    two, four = int(number[:2]), int(number[:4])
    if 51 <= two <= 55 or 2221 <= four <= 2720:
        return "mastercard"
    if number.startswith(("6011", "65")) or 644 <= int(number[:3]) <= 649:
        return "discover"
    return "unknown"


@dataclass(frozen=True)
class ChargeResult:
    reference: str
    approved: bool
    decline_reason: str | None
    amount: int
    currency: str
    card: CardSummary
    at: datetime


class CardProcessor:
    """An acquirer simulated in memory, idempotent by charge reference.

    `latency` is how long it takes to answer a charge (a slow acquirer, for tests
    of timeouts); the charge is recorded at the end, as a real one settles.
    """

    def __init__(self, latency: float = 0.0) -> None:
        self._charges: dict[str, ChargeResult] = {}
        self._lock = asyncio.Lock()
        self.latency = latency

    async def charge(self, *, reference: str, card: CardDetails, amount: int, currency: str) -> ChargeResult:
        if self.latency:
            await asyncio.sleep(self.latency)
        async with self._lock:
            earlier = self._charges.get(reference)
            if earlier is not None:
                return earlier
            reason = DECLINE_REASONS.get(card.number)
            result = ChargeResult(
                reference=reference,
                approved=reason is None,
                decline_reason=reason,
                amount=amount,
                currency=currency,
                card=card.summary,
                at=datetime.now(UTC),
            )
            self._charges[reference] = result
            return result

    async def lookup(self, reference: str) -> ChargeResult | None:
        """What happened to a charge, for recovering one interrupted mid-way."""
        return self._charges.get(reference)

    def approved_charges(self) -> list[ChargeResult]:
        """The ledger of money actually taken (for reconciliation and tests)."""
        return [charge for charge in self._charges.values() if charge.approved]
