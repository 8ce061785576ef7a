"""`mlci train`: build or pull the training image, run the command in it, log an MLflow run
with the lineage record.

    mlci train (--containerfile FILE [--context DIR] | --image REF) --command "CMD"
               [--data PATH...] [--seed N] [--experiment NAME]
               [--engine auto|docker|podman|local] [--gpus SPEC] [--timeout SECONDS]
               [--network none|default] [--env K=V...] [--json]
               [--cpus N] [--memory SIZE] [--outputs DIR] [--backend container|sagemaker]

Flags override `train:` in mlci.yml. Outputs: run-id, image-digest, model-uri.
Exit codes: 0 the run finished; 1 the command failed, timed out or broke the output
contract (the run is marked FAILED); 2 bad input, an engine that is missing or not
working, an unreachable tracking server.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def add_arguments(parser: argparse.ArgumentParser) -> None:
    image = parser.add_argument_group("image (one of)")
    image.add_argument("--containerfile", metavar="FILE",
                       help="Containerfile/Dockerfile to build (train.containerfile)")
    image.add_argument("--context", metavar="DIR",
                       help="build context (default: the Containerfile's directory; "
                       "train.context, relative to mlci.yml, for train.containerfile)")
    image.add_argument("--image", metavar="REF",
                       help="image reference; resolved to its digest before running (train.image)")
    parser.add_argument("--command", metavar="CMD", dest="train_command",
                        help="training command, run with /bin/sh -c (train.command)")
    parser.add_argument("--data", metavar="PATH", nargs="+", action="extend",
                        help="data paths/globs, mounted read-only at /data (data.paths)")
    parser.add_argument("--seed", type=int, metavar="N", help="seed, as MLCI_SEED (train.seed)")
    parser.add_argument("--experiment", metavar="NAME", help="MLflow experiment (train.experiment)")
    parser.add_argument("--engine", choices=["auto", "docker", "podman", "local"],
                        help="container engine (train.engine; default auto: the first of "
                        "docker, podman that works); local runs without a container")
    parser.add_argument("--gpus", metavar="SPEC",
                        help="GPUs: all, a count, or indices 0,1 (docker --gpus; podman CDI)")
    parser.add_argument("--timeout", metavar="SECONDS",
                        help="kill the run after this long (seconds, or 30m, 3h)")
    parser.add_argument("--network", choices=["none", "default"],
                        help="none: no network inside the container")
    parser.add_argument("--env", metavar="K=V", nargs="+", action="extend", default=[],
                        help="extra environment (K=V; a bare K passes this shell's value)")
    parser.add_argument("--cpus", metavar="N", help="CPU limit (engine --cpus)")
    parser.add_argument("--memory", metavar="SIZE", help="memory limit, e.g. 4g (engine --memory)")
    parser.add_argument("--outputs", metavar="DIR",
                        help="keep the outputs here (must be empty; default: a temporary dir)")
    parser.add_argument("--run-name", metavar="NAME", help="MLflow run name")
    parser.add_argument("--backend", choices=["container", "sagemaker"], default="container",
                        help="container (default): docker/podman/local on this runner; "
                        "sagemaker: a SageMaker training job")
    sm = parser.add_argument_group("sagemaker backend")
    sm.add_argument("--sagemaker-role", metavar="ARN",
                    help="execution role ARN (default $MLCI_SAGEMAKER_ROLE)")
    sm.add_argument("--sagemaker-output", metavar="S3_URI",
                    help="s3:// prefix for the job's outputs (default $MLCI_SAGEMAKER_OUTPUT)")
    sm.add_argument("--sagemaker-instance-type", metavar="TYPE", default=None,
                    help="instance type (default ml.m5.large)")
    sm.add_argument("--sagemaker-job-name", metavar="NAME",
                    help="training job name (default mlci-<run id>-<random>)")


def settings_from(args: argparse.Namespace) -> tuple[Any, Any]:
    """(Settings, config): the flags handed to `mlci.train.settings`."""
    from mlci.config import load_config
    from mlci.train.settings import TrainFlags, resolve_settings

    cfg = load_config(args)
    flags = TrainFlags(
        command=args.train_command, containerfile=args.containerfile, context=args.context,
        image=args.image, data=args.data, seed=args.seed, experiment=args.experiment,
        engine=args.engine, gpus=args.gpus, timeout=args.timeout, network=args.network,
        env=list(args.env or []), cpus=args.cpus, memory=args.memory, outputs=args.outputs,
        run_name=args.run_name)
    return resolve_settings(flags, cfg), cfg


def run(args: argparse.Namespace) -> int:
    from mlci import ci
    from mlci.train.runner import TrainFailed

    settings, _ = settings_from(args)
    try:
        if args.backend == "sagemaker":
            from mlci.train.sagemaker import train_sagemaker

            result = train_sagemaker(settings, role=args.sagemaker_role,
                                     output=args.sagemaker_output,
                                     instance_type=args.sagemaker_instance_type,
                                     job_name=args.sagemaker_job_name)
        else:
            from mlci.train.runner import train

            result = train(settings)
    except TrainFailed as failed:
        # The run exists and is marked FAILED: hand its id on, then fail the step (exit 1).
        if failed.run_id:
            ci.current().set_outputs({"run-id": failed.run_id, "image-digest": failed.image_digest,
                                      "model-uri": ""})
            if args.json:
                print(json.dumps({"run_id": failed.run_id, "status": "FAILED",
                                  "image_digest": failed.image_digest,
                                  "message": failed.message}, indent=2))
        raise
    report(result, args.json)
    return 0


def report(result: Any, as_json: bool) -> None:
    from mlci import ci
    from mlci.train.runner import summary_markdown

    platform = ci.current()
    platform.set_outputs({"run-id": result.run_id, "image-digest": result.image_digest,
                          "model-uri": result.model_uri})
    platform.summary(summary_markdown(result))
    if as_json:
        print(json.dumps(result.to_json(), indent=2, sort_keys=False))
    else:
        print(f"run {result.run_id}: {result.status}")
        if result.image_digest:
            print(f"image digest: {result.image_digest}")
        if result.model_uri:
            print(f"model: {result.model_uri}")
        for name, value in sorted(result.metrics.items()):
            print(f"  {name} = {value:.6g}")
    sys.stdout.flush()
