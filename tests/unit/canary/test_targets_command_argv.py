"""Placeholders of the command target and source: substituted inside each argument, never
splitting or joining arguments; unknown names are found before anything runs."""

from __future__ import annotations

import pytest

from mlci.canary.targets.argv import substitute, unknown_placeholders
from mlci.canary.targets.command import percent

pytestmark = pytest.mark.unit


def test_values_stay_inside_their_argument() -> None:
    argv = ["kubectl", "patch", "-p", '{{"weight": {weight}}}', "--name={model}"]
    assert substitute(argv, {"weight": "0.5", "model": "churn; rm -rf /"}) == [
        "kubectl", "patch", "-p", '{"weight": 0.5}', "--name=churn; rm -rf /"]


def test_a_value_is_not_substituted_again() -> None:
    assert substitute(["{a}"], {"a": "{b}", "b": "x"}) == ["{b}"]


def test_unknown_placeholders_are_listed() -> None:
    assert unknown_placeholders(["{weight}", "{wieght}", "{{literal}}"], {"weight"}) == [
        "wieght"]


@pytest.mark.parametrize(("weight", "text"), [(0.5, "0.5"), (99.5, "99.5"), (100, "100"),
                                              (0, "0"), (12.3456, "12.3456")])
def test_weights_are_plain_percentages(weight: float, text: str) -> None:
    assert percent(weight) == text
