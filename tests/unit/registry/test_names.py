"""Model names are checked before anything is created; search-filter values are quoted."""

from __future__ import annotations

import pytest

from mlci.errors import InputError
from mlci.registry.audit import check_model_name, literal

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("name", ["churn", "churn model v2", "fraud.detector_1-a", "Modèle"])
def test_usable_names(name: str) -> None:
    assert check_model_name(name) == name


@pytest.mark.parametrize("name", ["o'brien", 'say "hi"', "a`b", "back\\slash", "a@b", "a/b",
                                  "a:b", "", " padded", "tab\there", "x" * 251])
def test_unusable_names_are_input_errors(name: str) -> None:
    with pytest.raises(InputError) as caught:
        check_model_name(name)
    assert caught.value.exit_code == 2 and caught.value.key == "--model"
    assert repr(name) in caught.value.message


def test_filter_literals() -> None:
    assert literal("champion") == "'champion'"
    assert literal("o'brien") == '"o\'brien"'
    with pytest.raises(InputError):
        literal("both ' and \"")
