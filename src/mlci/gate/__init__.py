"""The promotion gate: a candidate against a baseline on a vector of metrics.

Modules, in the order data flows through them:

- `spec`        the gate spec (pydantic; importable without numpy, so `mlci schema` stays light)
- `spec_errors` its validation messages: file, key path, what was expected
- `sources`     candidate/baseline metrics from MLflow or JSON files
- `tables`      prediction file columns (CSV or Parquet) read into arrays, ids as written
- `predictions` per-example prediction files: task, labels, joined on an id column
- `checks`      evidence checked before any rule: a spec that checks nothing, names, refs
- `metrics`     metrics computed from predictions (overall, per slice, per group)
- `stats`       paired confidence intervals: exact multinomial bootstrap, DeLong for ROC AUC
- `decide`      rules -> outcomes -> verdict, exactly as docs/gate.md describes
- `engine`      glue: everything above into one report
- `result`      the report as one typed object (`GateReport`): what promote reads
- `report`      Markdown, JSON, JUnit XML and OpenMetrics renderings of that report
- `record`      the report kept on the candidate's MLflow run (artifact and tags)
- `scoring`     `mlci evaluate`: a model scored into a predictions file for the gate

This package's `__init__` imports nothing heavy on purpose.
"""

from __future__ import annotations

VERDICT_EXIT_CODES: dict[str, int] = {"promote": 0, "reject": 1, "review": 3}
