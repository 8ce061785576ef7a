"""The report's picture says what the verdict says: the drawn values are read back from the
text and checked against the report's JSON (signs, order, what is marked failing) for a
reject, a review and a promote case; hostile names cannot break out of the code block."""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlci.gate import picture
from mlci.gate import report as R
from tests.unit.gate.gate_helpers import gate, write_predictions

pytestmark = pytest.mark.unit

RANK = {"FAIL": 3, "REVIEW": 2, "pass": 1, "-": 0}
N = 1600


# --- three cases, on prediction files ---------------------------------------------------------

def predictions(tmp_path: Path, wrong_base: Any, wrong_cand: Any) -> tuple[str, str]:
    """1,600 rows, regions A-D, genders f/m; wrong_*(u, region) says whether a model errs on
    a row (u is the row's fixed uniform draw, so errors are nested, not independent)."""
    rng = random.Random(17)
    ids = list(range(N))
    labels = [rng.randint(0, 1) for _ in ids]
    draws = [rng.random() for _ in ids]
    regions = ["ABCD"[i % 4] for i in ids]
    genders = ["f" if (i // 4) % 2 else "m" for i in ids]
    files = []
    for name, wrong in (("c", wrong_cand), ("b", wrong_base)):
        preds = [1 - y if wrong(u, r) else y for y, u, r in zip(labels, draws, regions, strict=True)]
        scores = [round((0.75 if p else 0.25) + ((i * 37) % 21 - 10) / 100, 2)
                  for i, p in enumerate(preds)]
        files.append(str(write_predictions(tmp_path / f"{name}.csv", ids, labels, preds, scores,
                                           region=regions, gender=genders)))
    return files[0], files[1]


SPEC: dict[str, Any] = {
    "primary": {"metric": "f1", "min_improvement": 0.005},
    "metrics": {"accuracy": {"min": 0.8, "max_regression": 0.01},
                "log_loss": {"max_regression": "5%"},
                "latency_ms": {"max_regression": "10%", "severity": "warn",
                               "greater_is_better": False}},
    "slices": {"column": "region", "min_slice_size": 100,
               "metrics": {"accuracy": {"max_regression": 0.03}}},
    "fairness": {"column": "gender", "metric": "recall", "max_difference": 0.2},
    "significance": {"resamples": 300, "seed": 1},
    "predictions": {"score": "score"},
}


def reject_case(tmp_path: Path) -> dict[str, Any]:
    """Better everywhere but region D, whose accuracy falls by 0.10 (allowed: 0.03)."""
    cand, base = predictions(tmp_path, lambda u, r: u < 0.12,
                             lambda u, r: u < (0.22 if r == "D" else 0.06))
    return gate(SPEC, {"latency_ms": 40}, {"latency_ms": 42}, cand_pred=cand, base_pred=base)


def review_case(tmp_path: Path) -> dict[str, Any]:
    """f1 barely better (41 rows fixed, 34 broken: its interval includes no improvement),
    latency 25% worse (a warn rule), and a warn fairness rule no pair of groups can meet."""
    cand, base = predictions(tmp_path, lambda u, r: u < 0.12,
                             lambda u, r: u < 0.10 or 0.12 <= u < 0.145)
    spec = {**SPEC, "primary": {"metric": "f1", "min_improvement": 0.0},
            "fairness": {"column": "gender", "metric": "recall", "max_difference": 0.0001,
                         "severity": "warn"}}
    return gate(spec, {"latency_ms": 50}, {"latency_ms": 40}, cand_pred=cand, base_pred=base)


def promote_case(tmp_path: Path) -> dict[str, Any]:
    cand, base = predictions(tmp_path, lambda u, r: u < 0.12, lambda u, r: u < 0.06)
    return gate(SPEC, {"latency_ms": 40}, {"latency_ms": 42}, cand_pred=cand, base_pred=base)


# --- reading the picture back -----------------------------------------------------------------

@dataclass
class Drawn:
    status: str
    label: str
    plot: str
    numbers: str
    zero: int

    def column(self, marks: str) -> int | None:
        found = [i for i, c in enumerate(self.plot) if c in marks]
        assert len(found) <= 1, self.plot
        return found[0] if found else None

    @property
    def value(self) -> float | None:
        """The first number printed after the plot (the change), in the panel's units."""
        match = re.match(r"([-+][0-9.e+-]+)(%?)", self.numbers)
        if not match:
            return None
        return float(match.group(1)) / (100 if match.group(2) else 1)


def read(markdown: str) -> list[list[Drawn]]:
    """The picture's panels, each a list of rows as drawn."""
    fence = re.search(r"^(`{3,})text\n(.*?)^\1$", markdown, flags=re.MULTILINE | re.DOTALL)
    assert fence is not None, markdown
    lines = fence.group(2).splitlines()
    out = []
    for i, line in enumerate(lines):
        axis = re.fullmatch(rf"( +)\+[-+]{{{picture.PLOT - 2}}}\+", line)
        if not axis:
            continue
        start = len(axis.group(1))
        ticks = lines[i - 1][start:]
        zero = re.search(r"(?<![\d.%])0(?![\d.%])", ticks)
        assert zero is not None, ticks
        rows = []
        for row in lines[i + 1:]:
            if not re.match(r"(FAIL|REVIEW|pass|-) ", row):
                break
            rows.append(Drawn(row[:6].strip(), row[7:start - 1].strip(),
                              row[start:start + picture.PLOT], row[start + picture.PLOT:].strip(),
                              zero.start()))
        out.append(rows)
    return out


# --- what the JSON says each row should be ----------------------------------------------------

def expected_rows(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """label -> {status, change (direction-normalised, relative), outside (a band rule failed)}"""
    metrics = {m["name"]: m for m in report["metrics"]}
    column = report["slices"]["column"] if report["slices"] else ""
    found: dict[str, dict[str, Any]] = {}
    for r in report["rules"]:
        if r["section"] not in ("primary", "metrics", "slices"):
            continue
        sign = 1 if metrics[r["metric"]]["greater_is_better"] else -1
        primary = any(x["section"] == "primary" and x["metric"] == r["metric"]
                      for x in report["rules"])
        label = (f"{column}={r['slice']}: {r['metric']}" if r["section"] == "slices" else
                 ("primary " if primary else "") + r["metric"])
        row = found.setdefault(label, {"status": "-", "outside": False, "change": None})
        if r["change"] is not None and r["baseline"]:
            row["change"] = sign * r["change"] / abs(r["baseline"])
        status = {"fail": "FAIL" if r["severity"] == "block" else "REVIEW", "review": "REVIEW",
                  "pass": "pass"}.get(r["outcome"], "-")
        if RANK[status] > RANK[row["status"]]:
            row["status"] = status
        if r["outcome"] == "fail" and r["check"] in ("min", "max", "max_regression",
                                                     "min_improvement"):
            row["outside"] = True
    return found


def check_against_json(report: dict[str, Any]) -> list[list[Drawn]]:
    text = R.to_markdown(json.loads(R.to_json(report)))  # what a reader of the JSON sees
    panels = read(text)
    change = panels[0]
    expected = expected_rows(report)
    gated = [d for d in change if d.status != "-"]
    assert {d.label for d in gated} == {k for k, v in expected.items() if v["status"] != "-"}
    assert [RANK[d.status] for d in change] == sorted((RANK[d.status] for d in change),
                                                      reverse=True), "failing rows first"
    for d in change:
        want = expected.get(d.label, {"status": "-", "outside": False, "change": None})
        assert d.status == want["status"], d
        point = d.column("oX")
        assert (d.column("X") is not None) == (d.status in ("FAIL", "REVIEW")), d
        if want["change"] is None:
            continue
        assert point is not None and d.value is not None
        assert d.value == pytest.approx(want["change"], rel=5e-3, abs=5e-5), d
        side = (point > d.zero) - (point < d.zero)
        assert side == (want["change"] > 0) - (want["change"] < 0), d  # improvements right
        bracket = d.column("[")
        if bracket is not None:
            assert (point < bracket) == want["outside"], d  # outside the band iff it failed
    if report["fairness"]:
        check_fairness(report, panels[1])
    return panels


def check_fairness(report: dict[str, Any], drawn: list[Drawn]) -> None:
    """Each group's gap to the best group (recall: greater is better), marked iff beyond the
    allowed difference and the rule failed."""
    f = report["fairness"]
    (rule,) = [r for r in report["rules"] if r["section"] == "fairness"]
    values = {f"{f['column']}={g['value']}": g["candidate"][f["metric"]] for g in f["groups"]}
    best = max(values.values())
    assert {d.label for d in drawn} == set(values)
    for d in drawn:
        gap = values[d.label] - best
        assert d.value == pytest.approx(gap, rel=5e-3, abs=5e-5), d
        assert (d.column("oX") == d.zero) == (gap == 0), d
        beyond = gap < -rule["threshold"]
        marked = {"fail": "FAIL" if rule["severity"] == "block" else "REVIEW"}.get(
            rule["outcome"], "pass")
        assert d.status == (marked if beyond else "pass"), d


def test_reject_shows_the_failing_slice_first(tmp_path: Path) -> None:
    report = reject_case(tmp_path)
    assert report["verdict"] == "reject"
    change, fairness = check_against_json(report)
    first = change[0]
    assert (first.status, first.label) == ("FAIL", "region=D: accuracy")
    assert [d.status for d in change].count("FAIL") == 1
    assert first.column("X") < first.column("[") < first.zero  # type: ignore[operator]
    # log_loss fell: an improvement, drawn to the right of zero
    loss = next(d for d in change if d.label == "log_loss")
    assert loss.column("o") > loss.zero and "lower is better" in loss.numbers  # type: ignore[operator]
    assert all(d.status == "pass" for d in fairness)


def test_review_marks_what_went_to_review(tmp_path: Path) -> None:
    report = review_case(tmp_path)
    assert report["verdict"] == "review"
    change, fairness = check_against_json(report)
    review = {d.label for d in change if d.status == "REVIEW"}
    assert {"primary f1", "latency_ms"} <= review
    f1 = next(d for d in change if d.label == "primary f1")
    left, right = f1.plot[:f1.zero], f1.plot[f1.zero + 1:]
    assert left.rstrip().endswith("-") and right.lstrip(" [").startswith(("-", "o", "X"))
    # the warn fairness rule failed: the group(s) beyond the allowed gap are marked review
    assert [d.status for d in fairness].count("REVIEW") >= 1
    assert all(d.column("X") < d.column("[") for d in fairness  # type: ignore[operator]
               if d.status == "REVIEW")


def test_promote_has_nothing_marked(tmp_path: Path) -> None:
    report = promote_case(tmp_path)
    assert report["verdict"] == "promote"
    change, fairness = check_against_json(report)
    assert all(d.status in ("pass", "-") for d in change + fairness)
    assert all(d.column("X") is None for d in change + fairness)


# --- hostile names ----------------------------------------------------------------------------

BIDI = "\u202eevil\u200b"
BREAKOUT = "```\n<img src=x>`~~~"


def test_hostile_names_stay_in_the_code_block() -> None:
    spec = {"metrics": {BIDI: {"min": 0.5}, BREAKOUT: {"min": 0.5},
                        "名前": {"max_regression": 0.1}}}
    values = {BIDI: 0.9, BREAKOUT: 0.4, "名前": 0.5}
    text = R.to_markdown(gate(spec, values, {**values, "名前": 0.7}))
    block = re.search(r"^(`{3,})text\n(.*?)^\1$", text, flags=re.MULTILINE | re.DOTALL)
    assert block is not None
    body = block.group(2)
    longest = max(len(run) for run in re.findall(r"`+", body))
    assert len(block.group(1)) > longest  # nothing inside can close the fence
    assert "\u202e" not in body and "\u200b" not in body
    assert "\\u202eevil\\u200b" in body  # shown as escapes: no reordering, nothing hidden
    assert "```\\n<img src=x>`~~~" in body  # the newline is shown, the tag is literal text
    rows = [line for line in body.splitlines() if re.match(r"(FAIL|REVIEW|pass|-) ", line)]
    assert len(rows) == 3
    # fixed width: in every row, the plot starts at the axis' display column
    indent = next(len(m.group(1)) for m in map(re.compile(r"( +)\+[-+]+\+$").match,
                                                  body.splitlines()) if m)
    for line in rows:
        cut = next(k for k in range(len(line) + 1)
                   if sum(map(picture._width, line[:k])) == indent)
        assert re.fullmatch(rf"[ |\-<>\[\]oX]{{{picture.PLOT}}}", line[cut:cut + picture.PLOT])
        assert line[cut - 1] == " " and line[cut + picture.PLOT:].startswith("  ")


def test_cell_cuts_and_pads_by_display_width() -> None:
    assert picture.cell("abc", 6) == "abc   "
    assert picture.cell("名前", 6) == "名前  "
    assert picture.cell("x" * 10, 6) == "xxxx.."
    assert picture.cell("a\tb\x1b", 10) == "a\\tb\\e    "


def test_no_baseline_draws_no_change() -> None:
    report = gate({"metrics": {"accuracy": {"min": 0.9}}}, {"accuracy": 0.8}, None)
    (change,) = read(R.to_markdown(report))
    assert [(d.status, d.column("oX"), d.numbers) for d in change] == [
        ("FAIL", None, "no baseline")]


def test_picture_comes_right_after_the_reasons(tmp_path: Path) -> None:
    text = R.to_markdown(promote_case(tmp_path))
    assert text.index("**Why:**") < text.index(picture.HEADING) < text.index("### Primary")


def test_direction_is_normalised_and_bands_are_translated() -> None:
    """mae rose (worse: left), rmse fell (better: right); a max on a greater-is-better metric
    is an upper mark `]`; a min_improvement sits right of zero."""
    spec = {"primary": {"metric": "auc", "min_improvement": "1%"},
            "metrics": {"mae": {"max_regression": "10%"}, "rmse": {"max": 2.0},
                        "acc": {"max": 0.95}}}
    report = gate(spec, {"auc": 0.9, "mae": 1.2, "rmse": 0.8, "acc": 0.99},
                  {"auc": 0.8, "mae": 1.0, "rmse": 1.0, "acc": 0.9})
    (change,) = read(R.to_markdown(report))
    rows = {d.label: d for d in change}
    mae, rmse, acc, auc = rows["mae"], rows["rmse"], rows["acc"], rows["primary auc"]
    assert mae.status == "FAIL" and mae.column("X") < mae.column("[") < mae.zero  # type: ignore[operator]
    assert mae.value == pytest.approx(-0.2)
    assert rmse.status == "pass" and rmse.column("[") < rmse.zero < rmse.column("o")  # type: ignore[operator]
    assert rmse.value == pytest.approx(0.2)  # (1.0 - 0.8) / 1.0, to the right
    assert acc.status == "FAIL" and acc.zero < acc.column("]") < acc.column("X")  # type: ignore[operator]
    assert auc.zero < auc.column("[") < auc.column("o")  # type: ignore[operator]
    assert "needs >= +1%" in auc.numbers
    assert [d.label for d in change][:2] == ["mae", "acc"]  # failures first, report order


@settings(max_examples=60, deadline=None)
@given(names=st.lists(st.text(min_size=1, max_size=40), min_size=1, max_size=3, unique=True),
       values=st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=6,
                               max_size=6))
def test_any_name_keeps_the_block_closed_and_aligned(names: list[str],
                                                     values: list[float]) -> None:
    spec = {"metrics": {n: {"min": 0.0, "max_regression": "5%"} for n in names}}
    cand = {n: values[i] for i, n in enumerate(names)}
    base = {n: values[i + 3] for i, n in enumerate(names)}
    report = gate(spec, cand, base)
    lines = picture.markdown(report)
    marked = {line[:6].strip() for line in lines}
    assert (report["verdict"] == "reject") == ("FAIL" in marked)  # the picture says the verdict
    fence = lines[2].removesuffix("text")
    assert lines[-2] == fence and set(fence) == {"`"}
    body = lines[3:-2]
    assert all(fence not in line and "\n" not in line and "\r" not in line for line in body)
    indent = next(len(m.group(1)) for m in map(re.compile(r"( +)\+[-+]+\+$").match, body) if m)
    for line in body:
        if re.match(r"(FAIL|REVIEW|pass|-) ", line):
            cut = next(k for k in range(len(line) + 1)
                       if sum(map(picture._width, line[:k])) >= indent)
            assert sum(map(picture._width, line[:cut])) == indent, line
            assert re.fullmatch(rf"[ |\-<>\[\]oX]{{{picture.PLOT}}}", line[cut:cut + picture.PLOT])


def test_slice_rules_that_gated_nothing_are_marked_review(tmp_path: Path) -> None:
    ids = list(range(40))
    labels = [i % 2 for i in ids]
    cand = write_predictions(tmp_path / "c.csv", ids, labels, labels, region=["a", "b"] * 20)
    base = write_predictions(tmp_path / "b.csv", ids, labels, labels, region=["a", "b"] * 20)
    spec = {"slices": {"column": "region", "min_slice_size": 100,
                       "metrics": {"accuracy": {"min": 0.5}},
                       "worst": {"metric": "accuracy", "min": 0.5}}}
    report = gate(spec, {}, {}, cand_pred=str(cand), base_pred=str(base))
    (change,) = read(R.to_markdown(report))
    marked = {d.label: d for d in change if d.status == "REVIEW"}
    assert report["verdict"] == "review" and "region (all): accuracy" in marked
    assert change[0].status == "REVIEW" and "no slice" in change[0].numbers
    small = next(d for d in change if d.label == "region=a: accuracy")
    assert small.status == "-" and "not gated" in small.numbers


def test_many_rows_keep_every_failure_and_say_what_is_left_out() -> None:
    names = [f"m{i:02d}" for i in range(45)]
    spec = {"metrics": {n: {"min": 0.5} for n in names}}
    cand = dict.fromkeys(names, 0.9) | {"m40": 0.1, "m44": 0.2}
    report = gate(spec, cand, dict.fromkeys(names, 0.8))
    text = R.to_markdown(report)
    (change,) = read(text)
    assert len(change) == picture.MAX_ROWS
    assert [d.label for d in change[:2]] == ["m40", "m44"]
    assert f"... and {45 - picture.MAX_ROWS} more row(s) that passed" in text


def test_fairness_with_one_gated_group_marks_no_group_as_passing(tmp_path: Path) -> None:
    ids = list(range(60))
    labels = [i % 2 for i in ids]
    groups = ["a"] * 50 + ["b"] * 10  # b is below min_group_size: fewer than 2 groups gated
    cand = write_predictions(tmp_path / "c.csv", ids, labels, labels, g=groups)
    base = write_predictions(tmp_path / "b.csv", ids, labels, labels, g=groups)
    spec = {"fairness": {"column": "g", "metric": "recall", "max_difference": 0.1,
                         "min_group_size": 20}}
    report = gate(spec, {}, {}, cand_pred=str(cand), base_pred=str(base))
    (rule,) = [r for r in report["rules"] if r["section"] == "fairness"]
    assert rule["outcome"] in ("review", "not_gated")
    _, fairness = read(R.to_markdown(report))
    groups = [(d.label, d.status) for d in fairness if d.label.startswith("g=")]
    assert groups == [("g=a", "-"), ("g=b", "-")]  # no group passed a rule that did not run
    if rule["outcome"] == "review":  # the rule itself is the marked row, with its reason
        assert (fairness[0].label, fairness[0].status) == ("g: max_difference", "REVIEW")
        assert fairness[0].numbers.startswith("fewer than 2 groups")
