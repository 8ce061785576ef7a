"""`mlci validate-data`: check a data snapshot against its contract.

Exit codes: 0 every rule holds (rules with `severity: warn` may have failed: they are
listed as warnings); 1 a rule is violated (each violation listed with column, rule,
observed and expected, in the log, the job summary and `--json`); 2 bad input (no
contract, an invalid contract, an unreadable data file).

`--infer` prints a starting contract inferred from the `--data` snapshot instead
(`mlci validate-data --infer --data ref.parquet > contract.yml`).

Outputs: `valid` ("true"/"false"), `violations` (count) [GitLab: MLCI_VALID,
MLCI_VIOLATIONS; also `data-valid` -> MLCI_DATA_VALID].
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from mlci.errors import InputError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--contract", metavar="FILE", default=None,
                        help="contract YAML (default: data.contract in mlci.yml)")
    parser.add_argument("--data", nargs="+", action="extend", metavar="FILE", default=None,
                        help="CSV or Parquet file(s), or directories of them, read as one "
                        "table (default: data.paths in mlci.yml)")
    parser.add_argument("--reference", nargs="+", action="extend", metavar="FILE",
                        default=None, help="reference snapshot for the drift rules "
                        "(default: drift.reference in the contract)")
    parser.add_argument("--infer", action="store_true",
                        help="print a starting contract inferred from the --data snapshot "
                        "(YAML on stdout) instead of checking")


def _config(args: argparse.Namespace) -> Any:
    from mlci.config import load_config
    from mlci.config.load import env_overrides, find_config

    if find_config(args.config, os.environ) is None and \
            not env_overrides(os.environ, {"data"}):
        return None
    return load_config(args)


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|")


def _figure(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    return "" if value != value else f"{value:.4g}"


def _summary(result: Any, contract: str, data: list[str]) -> str:
    head = "valid" if result.valid else f"{len(result.violations)} violation(s)"
    if result.warnings:
        head += f", {len(result.warnings)} warning(s)"
    lines = [f"### mlci validate-data: {head}", "",
             f"- contract: `{contract}`", f"- data: {', '.join(f'`{d}`' for d in data)}",
             f"- rows: {result.rows:,}; rules checked: {result.checks}"]
    found = [*result.violations, *result.warnings]
    if found:
        lines += ["", "| column | rule | observed | expected | severity |",
                  "|---|---|---|---|---|"]
        for v in found:
            lines.append(f"| {_cell(v.column or '')} | {v.rule} | {_cell(v.observed)} | "
                         f"{_cell(v.expected)} | {v.severity} |")
    if result.drift:
        lines += ["", "| column | method | statistics | drifted |", "|---|---|---|---|"]
        for name, stats in result.drift.items():
            figures = ", ".join(f"{k} {_figure(v)}" for k, v in stats.items()
                                if k not in ("method", "drifted"))
            lines.append(f"| {_cell(name)} | {stats['method']} | {figures} | "
                         f"{'yes' if stats['drifted'] else 'no'} |")
    return "\n".join(lines)


def _data_paths(args: argparse.Namespace, cfg: Any) -> list[str]:
    data: list[str] | None = args.data
    if not data and cfg is not None and cfg.data.paths:
        data = [str(cfg.resolve_path(p)) for p in cfg.data.paths]
    if not data:
        raise InputError("no data: give --data FILE or set data.paths in mlci.yml",
                         key="--data")
    return data


def run(args: argparse.Namespace) -> int:
    from mlci import ci
    from mlci.data.contract import load_contract
    from mlci.data.validate import check, read_table, reading_types

    cfg = _config(args)
    if args.infer:
        from mlci.data.infer import infer_contract

        data = _data_paths(args, cfg)
        sys.stdout.write(infer_contract([Path(p) for p in data], data))
        return 0
    contract_path = args.contract or (cfg.data.contract and str(cfg.resolve_path(
        cfg.data.contract)) if cfg is not None else None)
    if not contract_path:
        raise InputError("no contract: give --contract FILE or set data.contract in mlci.yml",
                         key="data.contract")
    contract = load_contract(Path(contract_path))
    data = _data_paths(args, cfg)
    table = read_table([Path(p) for p in data], contract)
    reference = None
    ref_paths = args.reference
    if not ref_paths and contract.drift and contract.drift.reference:
        ref = Path(contract.drift.reference)
        ref_paths = [str(ref if ref.is_absolute() else Path(contract_path).parent / ref)]
    if contract.drift is not None and contract.drift_columns():
        if not ref_paths:
            raise InputError("the contract has drift rules but no reference: set "
                             "drift.reference or give --reference FILE", file=contract_path,
                             key="drift.reference")
        types = reading_types(contract)
        reference = read_table([Path(p) for p in ref_paths], contract,
                               {n: types[n] for n in contract.drift_columns()},
                               key="--reference" if args.reference else "drift.reference")
    result = check(table, contract, reference)
    platform = ci.current()
    for violation in result.violations[:50]:
        platform.error(f"validate-data: {violation.message()}", file=contract_path)
    for warning in result.warnings[:50]:
        platform.warning(f"validate-data: {warning.message()}", file=contract_path)
    valid = "true" if result.valid else "false"
    platform.set_outputs({"valid": valid, "data-valid": valid,
                          "violations": str(len(result.violations)),
                          "warnings": str(len(result.warnings))})
    platform.summary(_summary(result, contract_path, data))
    if args.json:
        report = result.to_json()
        report.update(contract=contract_path, data=data, reference=ref_paths)
        json.dump(report, sys.stdout, indent=2, allow_nan=False)
        print()
    else:
        print(f"validate-data: {result.rows:,} rows, {result.checks} rules: "
              + ("valid" if result.valid else f"{len(result.violations)} violation(s)")
              + (f", {len(result.warnings)} warning(s)" if result.warnings else ""))
        for v in [*result.violations, *result.warnings]:
            tag = " (warn)" if v.severity == "warn" else ""
            print(f"  {v.column or '(table)'}: {v.rule}{tag}: observed {v.observed}; "
                  f"expected {v.expected}")
        for name, stats in result.drift.items():
            print(f"  drift {name}: " + ", ".join(
                f"{k}={_figure(v)}" for k, v in stats.items() if k != "method"))
    return 0 if result.valid else 1
