"""Data snapshots as a CI trigger: manifests, fingerprints, baselines and data contracts.

`mlci data-change` builds a manifest (path, size, hash) of a snapshot from local paths,
DVC metadata and S3 listings, fingerprints it and diffs it against a baseline;
`mlci validate-data` checks a snapshot against a contract. Importing this package is
cheap: no numpy, MLflow or boto3 until a command needs them.
"""

from __future__ import annotations

# Names the train/promote stages use to record the data a model version was trained on.
from mlci.names import DATA_FINGERPRINT as FINGERPRINT_TAG
from mlci.names import MANIFEST_ARTIFACT

__all__ = ["FINGERPRINT_TAG", "MANIFEST_ARTIFACT"]
