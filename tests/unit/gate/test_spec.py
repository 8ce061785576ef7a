"""The gate spec: validation, messages naming file + key path, JSON Schema, light import."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mlci.errors import InputError
from mlci.gate.spec import GateSpec, amount_parts, load_gate_spec

pytestmark = pytest.mark.unit

COMPLETE = """\
primary: {metric: f1, min_improvement: 0.01}
metrics:
  accuracy:   {min: 0.80, max_regression: 0.01}
  f1:         {min: 0.70}
  latency_ms: {max: 50, greater_is_better: false, max_regression: "10%", severity: warn}
slices:
  column: region
  min_slice_size: 100
  metrics:
    accuracy: {min: 0.70, max_regression: 0.03}
  worst: {metric: accuracy, min: 0.6, max_gap: 0.1}
fairness:
  column: gender
  metric: recall
  max_difference: 0.05
significance: {confidence: 0.95, resamples: 1000, seed: 0}
on_missing_baseline: promote
predictions: {id: id, label: y, prediction: y_pred, score: y_score}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gate.yml"
    path.write_text(text, encoding="utf-8")
    return path


def test_design_example_validates(tmp_path: Path) -> None:
    spec = load_gate_spec(write(tmp_path, COMPLETE))
    assert spec.primary is not None and spec.primary.metric == "f1"
    assert spec.metrics["latency_ms"].max_regression == "10%"
    assert spec.greater_is_better("latency_ms") is False
    assert spec.greater_is_better("accuracy") is True
    assert spec.greater_is_better("log_loss") is False
    assert spec.slices is not None and spec.slices.worst is not None
    assert spec.predictions.score == "y_score"


@pytest.mark.parametrize(("text", "key", "words"), [
    ("metrics:\n  accuracy: {min: 0.8, max_regression: abc}\n",
     "metrics.accuracy.max_regression", 'expected a number or a percentage like "2%", got \'abc\''),
    ("metrics:\n  accuracy: {mni: 0.8}\n", "metrics.accuracy.mni", "unknown key"),
    ("bogus: 1\n", "bogus", "expected one of: primary, metrics"),
    ("slices: {column: r, worst: {metric: a, foo: 1}}\n", "slices.worst.foo", "unknown key"),
    ("fairness: {column: g, metric: recall}\n", "fairness", "max_difference or max_ratio"),
    ("primary: {min_improvement: 1%}\n", "primary.metric", "required"),
    ("significance: {confidence: 2}\n", "significance.confidence", "less than 1"),
    ("metrics:\n  m: {max_regression: -1}\n", "metrics.m.max_regression", "not negative"),
    ("metrics:\n  m: {severity: fatal}\n", "metrics.m.severity", "block"),
    ("on_missing_baseline: maybe\n", "on_missing_baseline", "promote"),
    ("- a\n- b\n", None, "expected a mapping"),
])
def test_errors_name_file_and_key(tmp_path: Path, text: str, key: str | None, words: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(InputError) as caught:
        load_gate_spec(path)
    error = caught.value
    assert error.file == str(path) and error.key == key
    assert words in error.message
    assert str(error).startswith(str(path))


def test_invalid_yaml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not valid YAML"):
        load_gate_spec(write(tmp_path, "metrics: {a: [\n"))
    with pytest.raises(InputError, match="cannot read"):
        load_gate_spec(tmp_path / "nope.yml")


def test_amounts() -> None:
    assert amount_parts("2%") == (0.02, True)
    assert amount_parts("2.5%") == (0.025, True)
    assert amount_parts(0.01) == (0.01, False)


@pytest.mark.parametrize("ratio", [0.8, 1.25])
def test_max_ratio_accepts_both_conventions(ratio: float) -> None:
    spec = GateSpec.model_validate({"fairness": {"column": "g", "metric": "recall",
                                                 "max_ratio": ratio}})
    assert spec.fairness is not None and spec.fairness.max_ratio == ratio


def test_json_schema_has_descriptions_and_forbids_extras() -> None:
    schema = GateSpec.model_json_schema()
    text = json.dumps(schema)
    assert '"additionalProperties": false' in text
    rule = schema["$defs"]["MetricRule"]["properties"]
    assert "description" in rule["max_regression"]
    assert rule["max_regression"]["anyOf"][1]["pattern"].endswith("%$")
    assert "worst" in schema["$defs"]["SliceSpec"]["properties"]


def test_spec_imports_without_numpy() -> None:
    code = "import sys, mlci.gate.spec; assert 'numpy' not in sys.modules, 'numpy imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
