import pytest

from bench.config import SCENARIOS, chosen_scenarios


def test_no_choice_is_every_scenario() -> None:
    assert chosen_scenarios("") == SCENARIOS
    assert chosen_scenarios(" , ") == SCENARIOS


def test_chosen_scenarios_run_in_the_order_of_a_whole_run() -> None:
    assert chosen_scenarios("signInUnderAttack, costGrowth") == ("costGrowth", "signInUnderAttack")


def test_an_unknown_scenario_is_refused_with_the_names_that_exist() -> None:
    with pytest.raises(ValueError, match=r"no scenario \['signin'\].*signInUnderAttack"):
        chosen_scenarios("signin")
