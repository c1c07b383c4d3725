"""The card checks and the simulated processor, without a server."""

from datetime import UTC, datetime

import pytest

from payments.processor import CardProcessor, card_brand, luhn_valid, parse_card
from shopkit.errors import BadUserInput

NOW = datetime(2030, 6, 15, tzinfo=UTC)


@pytest.mark.parametrize(
    ("number", "brand"),
    [
        ("4242424242424242", "visa"),
        ("5555555555554444", "mastercard"),
        ("2223003122003222", "mastercard"),
        ("378282246310005", "amex"),
        ("6011111111111117", "discover"),
        ("6445644564456445", "discover"),
        ("3566002020360505", "unknown"),
    ],
)
def test_brand_comes_from_the_number(number: str, brand: str) -> None:
    assert luhn_valid(number)
    assert card_brand(number) == brand


def test_luhn_rejects_a_wrong_check_digit() -> None:
    assert not luhn_valid("4242424242424241")


def test_a_card_expiring_this_month_is_still_valid() -> None:
    card = parse_card("4242424242424242", 6, 2030, "123", now=NOW)

    assert card.summary.last4 == "4242"
    assert "4242424242424242" not in repr(card)
    assert "123" not in repr(card)


def test_a_card_that_expired_last_month_is_refused() -> None:
    with pytest.raises(BadUserInput, match="expired"):
        parse_card("4242424242424242", 5, 2030, "123", now=NOW)


async def test_the_processor_charges_a_reference_once() -> None:
    processor = CardProcessor()
    card = parse_card("4242424242424242", 12, 2031, "123", now=NOW)

    first = await processor.charge(reference="p1", card=card, amount=100, currency="EUR")
    again = await processor.charge(reference="p1", card=card, amount=100, currency="EUR")

    assert first == again
    assert first.approved
    assert len(processor.approved_charges()) == 1
    assert await processor.lookup("p1") == first
    assert await processor.lookup("p2") is None


@pytest.mark.parametrize(
    ("number", "reason"),
    [("4000000000000002", "card_declined"), ("4000000000009995", "insufficient_funds")],
)
async def test_test_cards_decline(number: str, reason: str) -> None:
    processor = CardProcessor()
    card = parse_card(number, 12, 2031, "123", now=NOW)

    result = await processor.charge(reference="p1", card=card, amount=100, currency="EUR")

    assert not result.approved
    assert result.decline_reason == reason
    assert processor.approved_charges() == []
