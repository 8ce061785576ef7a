"""Containerized, reproducible training: `mlci train` and `mlci reproduce`.

- `engine`   — choose a container engine (docker, podman, or `local` when asked), build or
               resolve the image to a digest, run the command with the in-container contract;
- `outputs`  — the output contract (`metrics.json`, `params.json`, `predictions.csv`, `model/`);
- `lineage`  — the in-toto statement that records what produced a model, and its run tags;
- `runner`   — one training run end to end, logged as an MLflow run;
- `reproduce`— re-run a recorded run and compare the artifacts and metrics;
- `sagemaker`— the same record for a SageMaker training job (`--backend sagemaker`).

Importing this package is cheap: no MLflow or boto3 until a run needs them.
"""

from __future__ import annotations

from mlci.names import LINEAGE_ARTIFACT, MANIFEST_ARTIFACT, MODEL_ARTIFACT

__all__ = ["CONTAINER_DATA_DIR", "CONTAINER_OUTPUT_DIR", "LINEAGE_ARTIFACT",
           "MANIFEST_ARTIFACT", "MODEL_ARTIFACT"]

# Where the contract puts things inside the container (docs/train.md).
CONTAINER_DATA_DIR = "/data"
CONTAINER_OUTPUT_DIR = "/outputs"
