"""Model names are checked before anything is created; search-filter values are quoted."""

from __future__ import annotations

import pytest

from mlci.errors import InputError, ServiceError
from mlci.registry.audit import check_model_name, literal, upsert

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


class _Flaky:
    """A registry whose first tag write collides with a concurrent writer's insert."""

    def __init__(self, message: str) -> None:
        self.message, self.calls = message, 0

    def call(self, method: str, *args: object, **kwargs: object) -> str:
        self.calls += 1
        if self.calls == 1:
            raise ServiceError(self.message)
        return "ok"


def test_a_tag_write_colliding_with_a_concurrent_one_is_repeated_once() -> None:
    sqlite = ("registry refused set_model_version_tag: BAD_REQUEST: (sqlite3.IntegrityError) "
              "UNIQUE constraint failed: model_version_tags.key")
    for message in (sqlite, "duplicate key value violates unique constraint \"tags_pk\""):
        flaky = _Flaky(message)
        assert upsert(flaky, "set_model_version_tag", "m", "1", "k", "v") == "ok"  # type: ignore[arg-type]
        assert flaky.calls == 2
    with pytest.raises(ServiceError, match="permission"):
        upsert(_Flaky("registry refused set_tag: permission denied"), "set_tag")  # type: ignore[arg-type]
