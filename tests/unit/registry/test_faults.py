"""The fault hook refuses a misspelt fault instead of silently never firing."""

from __future__ import annotations

import pytest

from mlci.registry import faults

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("spec", ["after-decison:exit", "after-decision:crash", "after-move"])
def test_a_fault_that_could_never_fire_is_refused(spec: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLCI_FAULT", spec)
    with pytest.raises(ValueError, match="MLCI_FAULT"):
        faults.point("after-decision")


def test_unset_or_another_point_does_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLCI_FAULT", raising=False)
    faults.point("after-decision")
    monkeypatch.setenv("MLCI_FAULT", "after-move:exit")
    faults.point("after-decision")   # not this point: returns
