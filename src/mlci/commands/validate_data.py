"""`mlci validate-data`: check a data snapshot against its contract.

Exit codes: 0 every rule holds; 1 a rule is violated (each violation listed with column,
rule, observed and expected, in the log, the job summary and `--json`); 2 bad input (no
contract, an invalid contract, an unreadable data file).

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


def _config(args: argparse.Namespace) -> Any:
    from mlci.config import load_config
    from mlci.config.load import env_overrides, find_config

    if find_config(args.config, os.environ) is None and \
            not env_overrides(os.environ, {"data"}):
        return None
    return load_config(args)


def _summary(result: Any, contract: str, data: list[str]) -> str:
    head = "valid" if result.valid else f"{len(result.violations)} violation(s)"
    lines = [f"### mlci validate-data: {head}", "",
             f"- contract: `{contract}`", f"- data: {', '.join(f'`{d}`' for d in data)}",
             f"- rows: {result.rows:,}; rules checked: {result.checks}"]
    if result.violations:
        lines += ["", "| column | rule | observed | expected |", "|---|---|---|---|"]
        def cell(value: Any) -> str:
            return str(value).replace("|", "\\|")

        for v in result.violations:
            lines.append(f"| {cell(v.column or '')} | {v.rule} | {cell(v.observed)} | "
                         f"{cell(v.expected)} |")
    if result.drift:
        lines += ["", "| column | psi | ks_statistic | ks_pvalue |",
                  "|---|---|---|---|"]
        for name, stats in result.drift.items():
            lines.append(f"| {name} | " + " | ".join(
                f"{stats[k]:.4g}" if k in stats else "" for k in
                ("psi", "ks_statistic", "ks_pvalue")) + " |")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from mlci import ci
    from mlci.data.contract import load_contract
    from mlci.data.validate import check, read_table

    cfg = _config(args)
    root = Path(cfg.base_dir) if cfg is not None else Path.cwd()
    contract_path = args.contract or (cfg.data.contract and str(cfg.resolve_path(
        cfg.data.contract)) if cfg is not None else None)
    if not contract_path:
        raise InputError("no contract: give --contract FILE or set data.contract in mlci.yml",
                         key="data.contract")
    contract = load_contract(Path(contract_path))
    data = args.data
    if not data and cfg is not None and cfg.data.paths:
        data = [str(cfg.resolve_path(p)) for p in cfg.data.paths]
    if not data:
        raise InputError("no data: give --data FILE or set data.paths in mlci.yml",
                         key="--data")
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
        reference = read_table([Path(p) for p in ref_paths], contract)
    result = check(table, contract, reference)
    del root
    platform = ci.current()
    for violation in result.violations[:50]:
        platform.error(f"validate-data: {violation.message()}", file=contract_path)
    valid = "true" if result.valid else "false"
    platform.set_outputs({"valid": valid, "data-valid": valid,
                          "violations": str(len(result.violations))})
    platform.summary(_summary(result, contract_path, data))
    if args.json:
        report = result.to_json()
        report.update(contract=contract_path, data=data, reference=ref_paths)
        json.dump(report, sys.stdout, indent=2, default=str)
        print()
    else:
        print(f"validate-data: {result.rows:,} rows, {result.checks} rules: "
              + ("valid" if result.valid else f"{len(result.violations)} violation(s)"))
        for v in result.violations:
            print(f"  {v.column or '(table)'}: {v.rule}: observed {v.observed}; "
                  f"expected {v.expected}")
        for name, stats in result.drift.items():
            print(f"  drift {name}: " + ", ".join(f"{k}={v:.4g}" for k, v in stats.items()))
    return 0 if result.valid else 1
