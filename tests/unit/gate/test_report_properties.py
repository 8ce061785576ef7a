"""Property: whatever the metric, column, slice and group names, every gate report format
stays well formed: the JSON parses and keeps the names, the JUnit XML parses, a Markdown
table row keeps its cells and no name opens HTML or leaves a code block open, and every
OpenMetrics line follows the text format with the names escaped in label values.

The names reach the reports the way users' names do: metric names through the metric
sources, slice and group values through a real Parquet prediction file (the slice column
is also the fairness column), all through `run_gate`.
"""

from __future__ import annotations

import json
import math
import re
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlci.gate.engine import Side, run_gate
from mlci.gate.report import to_json, to_junit, to_markdown, to_openmetrics
from mlci.gate.spec import COMPUTABLE, GateSpec

pytestmark = pytest.mark.unit

HOSTILE = ["a|b", "`x`", "```", "~~~", "<img src=x onerror=alert(1)>", "]]>", "\\", "\\|",
           'q"uote', "line\nbreak", "cr\rlf", "tab\tx", "\x00nul", "\x1b[31m", "::error::x",
           "# EOF", "} 1", "@team", "https://x.test/", "&lt;", "*bold*", "-", "0", "\u2028",
           "\ufeff", "\ufffe", "é", "名字", "🙂"]
TEXT = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=12)
NAME = st.one_of(st.sampled_from(HOSTILE), TEXT)
CORE = {"id", "label", "prediction", "score"}


@st.composite
def cases(draw: st.DrawFn) -> tuple[GateSpec, dict[str, float], dict[str, float],
                                    dict[str, dict[str, list[Any]]]]:
    names = draw(st.lists(NAME.filter(lambda n: n not in COMPUTABLE), min_size=1, max_size=4,
                          unique=True))
    column = draw(NAME.filter(lambda n: n not in CORE))
    values = draw(st.lists(NAME, min_size=1, max_size=4, unique=True))
    value = st.floats(-10, 10, allow_nan=False)
    candidate = {n: draw(value) for n in names}
    baseline = {n: draw(value) for n in names}
    spec = GateSpec.model_validate({
        "primary": {"metric": names[0], "min_improvement": 0.0},
        "metrics": {n: {"min": -5.0, "max_regression": "10%"} for n in names},
        "slices": {"column": column, "min_slice_size": draw(st.sampled_from([1, 15, 100])),
                   "metrics": {"accuracy": {"min": 0.5, "max_regression": 0.1}},
                   "worst": {"metric": "accuracy", "max_gap": 0.2}, "values": values[:1]},
        "fairness": {"column": column, "metric": "accuracy", "max_difference": 0.2,
                     "min_group_size": 5},
        "significance": {"resamples": 100},
    })
    n = 60
    groups = [None if draw(st.booleans()) and i == 0 else values[i % len(values)]
              for i in range(n)]
    labels = [i % 2 for i in range(n)]
    flips = draw(st.sets(st.integers(0, n - 1), max_size=15))
    tables: dict[str, dict[str, list[Any]]] = {
        side: {"id": [f"e{i}" for i in range(n)], "label": labels,
               "prediction": [1 - y if i in wrong else y for i, y in enumerate(labels)],
               column: groups}
        for side, wrong in (("c", flips), ("b", set(range(0, n, 7))))}
    return spec, candidate, baseline, tables


def write_parquet(folder: Path, tables: dict[str, dict[str, list[Any]]]) -> list[str]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    paths = []
    for side, columns in tables.items():
        paths.append(str(folder / f"{side}.parquet"))
        pq.write_table(pa.table(columns), paths[-1])
    return paths


# -- Markdown -----------------------------------------------------------------------------------

_OPEN = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
_CLOSE = re.compile(r"^ {0,3}(`{3,}|~{3,})[ \t]*$")


def outside_fences(text: str) -> list[str]:
    """The lines outside fenced code blocks (CommonMark rules); every block must close."""
    out, fence = [], ""
    for line in re.split(r"\r\n|\r|\n", text):
        if not fence:
            found = _OPEN.match(line)
            if found and not (found.group(1)[0] == "`" and "`" in found.group(2)):
                fence = found.group(1)
                continue
            out.append(line)
            continue
        close = _CLOSE.match(line)
        if close and close.group(1)[0] == fence[0] and len(close.group(1)) >= len(fence):
            fence = ""
    assert not fence, "a code block is left open"
    return out


def cell_breaks(line: str) -> int:
    """Unescaped pipes: the cell separators GitHub's table parser sees."""
    count, escaped = 0, False
    for char in line:
        if char == "|" and not escaped:
            count += 1
        escaped = char == "\\" and not escaped
    return count


def check_markdown(text: str) -> None:
    lines = outside_fences(text)
    for line in lines:
        assert "<" not in line, f"raw HTML can open: {line!r}"
    table: list[str] = []
    for line in [*lines, ""]:
        if line.startswith("|"):
            table.append(line)
            continue
        if table:
            assert re.fullmatch(r"\|(-+\|)+", table[1]), table[:2]
            width = cell_breaks(table[0])
            for row in table:
                assert cell_breaks(row) == width, f"a cell breaks out: {row!r}"
            table = []


# -- OpenMetrics --------------------------------------------------------------------------------

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_LABEL = r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"'
_SAMPLE = re.compile(rf"^({_NAME})(?:\{{({_LABEL}(?:,{_LABEL})*)\}})? (\S+)$")


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), value)


def check_openmetrics(text: str) -> list[dict[str, str]]:
    """Every line valid; returns the label sets (unescaped), which must be unique."""
    assert text.endswith("\n# EOF\n")
    lines = text[:-1].split("\n")
    assert lines[-1] == "# EOF"
    families, seen, labels = set(), set(), []
    for line in lines[:-1]:
        if line.startswith("# TYPE "):
            name, kind = line[7:].split(" ")
            assert re.fullmatch(_NAME, name) and kind == "gauge"
            families.add(name)
            continue
        if line.startswith("# HELP "):
            assert re.fullmatch(_NAME, line[7:].split(" ")[0])
            continue
        found = _SAMPLE.match(line)
        assert found, f"not an OpenMetrics sample: {line!r}"
        assert found.group(1) in families
        assert math.isfinite(float(found.group(found.lastindex or 0)))
        pairs = {k: _unescape(v) for k, v in re.findall(_LABEL, found.group(2) or "")}
        key = (found.group(1), tuple(sorted(pairs.items())))
        assert key not in seen, f"duplicate sample: {line!r}"
        seen.add(key)
        labels.append(pairs)
    return labels


# -- the property -------------------------------------------------------------------------------

@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(cases())
def test_every_report_format_stays_well_formed(case: tuple[Any, ...]) -> None:
    spec, candidate, baseline, tables = case
    with tempfile.TemporaryDirectory(prefix="mlci-report-prop-") as folder:
        cand_file, base_file = write_parquet(Path(folder), tables)
        report = run_gate(spec, Side("cand.json", candidate, predictions=cand_file),
                          Side("base.json", baseline, predictions=base_file))
    names = set(candidate)

    parsed = json.loads(to_json(report))
    assert names <= {m["name"] for m in parsed["metrics"]}
    assert parsed["slices"]["column"] == spec.slices.column

    root = ET.fromstring(to_junit(report))
    assert len(root.findall(".//testcase")) == len(report["rules"])

    check_markdown(to_markdown(report))

    labels = check_openmetrics(to_openmetrics(report))
    assert names <= {pair["metric"] for pair in labels if "metric" in pair}
