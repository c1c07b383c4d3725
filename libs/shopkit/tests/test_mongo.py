"""shopkit.mongo.any_of: the filter a DataLoader batch becomes."""

from shopkit.mongo import any_of


def test_one_value_is_asked_by_equality() -> None:
    assert any_of("_id", ["a"]) == {"_id": "a"}


def test_a_repeated_value_is_still_one_value() -> None:
    assert any_of("orderId", ["a", "a"]) == {"orderId": "a"}


def test_several_values_are_asked_with_in_each_once_in_order() -> None:
    assert any_of("_id", ["b", "a", "b"]) == {"_id": {"$in": ["b", "a"]}}
