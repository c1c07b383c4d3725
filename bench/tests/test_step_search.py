"""The mixed-traffic step search: which rate it tries next."""

from bench.suite import MIX_MIN_RATE, next_search_rate, visits_per_minute


def test_it_doubles_while_every_step_held() -> None:
    assert next_search_rate(held=2.0, failed=0.0) == 4.0


def test_it_halves_while_no_step_held() -> None:
    assert next_search_rate(held=0.0, failed=2.0) == 1.0


def test_it_stops_halving_at_the_lowest_rate() -> None:
    assert next_search_rate(held=0.0, failed=MIX_MIN_RATE) is None


def test_it_bisects_between_held_and_failed() -> None:
    assert next_search_rate(held=2.0, failed=4.0) == 3.0


def test_it_stops_when_the_interval_is_within_a_visit_per_minute() -> None:
    assert next_search_rate(held=1.0, failed=1.02) is None


def test_rates_under_one_visit_a_second_become_visits_per_minute() -> None:
    assert visits_per_minute(0.25) == 15
    assert visits_per_minute(0.001) == 1
