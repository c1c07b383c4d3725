"""Basket checks and pricing, before anything touches the store."""

import pytest

from orders.rules import Line, merge_lines, order_number, price
from orders.store import ProductRecord
from shopkit.errors import BadUserInput
from shopkit.records import Amount

CATALOG = {
    "MUG": ProductRecord(sku="MUG", name="Mug", price=Amount(amount=1450, currency="USD")),
    "PEN": ProductRecord(sku="PEN", name="Pens", price=Amount(amount=999, currency="USD")),
    "EURO": ProductRecord(sku="EURO", name="Croissant", price=Amount(amount=250, currency="EUR")),
}


def test_duplicate_skus_are_merged_in_first_seen_order() -> None:
    lines = merge_lines([Line("PEN", 2), Line("MUG", 1), Line(" PEN ", 3)])
    assert lines == [Line("PEN", 5), Line("MUG", 1)]


@pytest.mark.parametrize("quantity", [0, -1, 101])
def test_quantity_outside_1_to_100_is_refused(quantity: int) -> None:
    with pytest.raises(BadUserInput, match="PEN"):
        merge_lines([Line("PEN", quantity)])


def test_merged_quantity_over_100_is_refused() -> None:
    with pytest.raises(BadUserInput, match="between 1 and 100"):
        merge_lines([Line("PEN", 60), Line("PEN", 41)])


def test_empty_basket_and_too_many_lines_are_refused() -> None:
    with pytest.raises(BadUserInput, match="at least one item"):
        merge_lines([])
    with pytest.raises(BadUserInput, match="at most 50 lines"):
        merge_lines([Line(f"SKU-{index}", 1) for index in range(51)])


@pytest.mark.parametrize("sku", ["", "   ", "X" * 65])
def test_blank_or_overlong_sku_is_refused(sku: str) -> None:
    with pytest.raises(BadUserInput, match="SKU"):
        merge_lines([Line(sku, 1)])


def test_prices_and_total_come_from_the_catalog() -> None:
    priced = price([Line("MUG", 3), Line("PEN", 2)], CATALOG)
    assert priced.total == Amount(amount=3 * 1450 + 2 * 999, currency="USD")
    assert [(item.sku, item.name, item.unit_price.amount) for item in priced.items] == [
        ("MUG", "Mug", 1450),
        ("PEN", "Pens", 999),
    ]


def test_unknown_skus_are_all_named() -> None:
    with pytest.raises(BadUserInput, match="Unknown SKU: NOPE, ALSO-NOPE") as raised:
        price([Line("NOPE", 1), Line("MUG", 1), Line("ALSO-NOPE", 1)], CATALOG)
    assert raised.value.extensions["skus"] == ["NOPE", "ALSO-NOPE"]


def test_one_currency_per_order() -> None:
    with pytest.raises(BadUserInput, match="one currency"):
        price([Line("MUG", 1), Line("EURO", 1)], CATALOG)


def test_order_numbers_are_zero_padded() -> None:
    assert order_number(123) == "SG-000123"
    assert order_number(1234567) == "SG-1234567"
