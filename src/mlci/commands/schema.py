"""`mlci schema`: the JSON Schema of mlci.yml, generated from the typed model."""

from __future__ import annotations

import argparse
import json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", "-o", metavar="FILE", help="write to FILE instead of stdout")


def json_schema() -> dict[str, object]:
    from mlci.config.model import Config

    schema = Config.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://mlci.dev/schema/mlci.yml.json"
    return schema


def run(args: argparse.Namespace) -> int:
    text = json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"
    if args.output:
        from mlci.fileio import write_atomic

        write_atomic(args.output, text, what="the schema", key="--output")
    else:
        print(text, end="")
    return 0
