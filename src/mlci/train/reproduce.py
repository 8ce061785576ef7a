"""`mlci reproduce RUN_ID`: re-run a recorded training run and compare what it produces.

The recorded lineage (`mlci/lineage.json`) gives the image, command, seed, data paths,
extra environment and limits. The data is fingerprinted again first: when the current
fingerprint differs from the recorded one, reproduce refuses (exit 2) — a different result
on different data proves nothing. The same holds for the code when it comes from the
working tree (a rebuild, or `--engine local`): it must be the recorded commit's
(`mlci.train.code`). The image is the recorded one: its image ID when this
engine has it, else its registry digest (pulled), else — for an image built from a
Containerfile that is not here any more — a rebuild from the same Containerfile (same
sha256), and the result says the image was rebuilt and whether its ID matches.

The new run is a normal MLflow run in the same experiment, tagged `mlci.reproduces=<id>`.
Then:
- `equal`: the same artifacts with the same sha256 digests (so the same metrics);
- `within-tolerance`: some artifact bytes differ, but every metric is within `--tolerance`
  (absolute, or relative as "1%"; default 0: metrics exactly equal);
- `different`: a metric outside the tolerance, or an artifact missing or added.
Exit 0 for equal and within-tolerance, 1 for different.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlci import names
from mlci.errors import InputError, ServiceError
from mlci.registry.client import Conflict, NotFound, Registry
from mlci.train import LINEAGE_ARTIFACT, lineage
from mlci.train.code import check_code
from mlci.train.runner import (
    Settings,
    TrainResult,
    snapshot_data,
    train,
)

_TOLERANCE = re.compile(r"^\s*(\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*(%?)\s*$")


@dataclass(frozen=True)
class Tolerance:
    value: float = 0.0
    relative: bool = False

    @classmethod
    def parse(cls, text: str | None) -> Tolerance:
        if text is None or text == "":
            return cls()
        match = _TOLERANCE.match(str(text))
        if not match:
            raise InputError(f"expected a number (absolute) or a percentage such as 1%, got "
                             f"{text!r}", key="--tolerance")
        return cls(float(match.group(1)) / (100.0 if match.group(2) else 1.0),
                   bool(match.group(2)))

    def allows(self, recorded: float, reproduced: float) -> bool:
        limit = self.value * abs(recorded) if self.relative else self.value
        return abs(reproduced - recorded) <= limit

    def __str__(self) -> str:
        return f"{self.value * 100:g}%" if self.relative else f"{self.value:g}"


@dataclass
class Comparison:
    result: str
    artifacts: dict[str, list[str]]
    metrics: dict[str, dict[str, Any]]
    differences: list[str] = field(default_factory=list)


def compare(recorded_digests: dict[str, str], new_digests: dict[str, str],
            recorded_metrics: dict[str, float], new_metrics: dict[str, float],
            tolerance: Tolerance) -> Comparison:
    names = sorted(set(recorded_digests) | set(new_digests))
    artifacts: dict[str, list[str]] = {"equal": [], "different": [], "missing": [], "added": []}
    for name in names:
        if name not in new_digests:
            artifacts["missing"].append(name)
        elif name not in recorded_digests:
            artifacts["added"].append(name)
        elif recorded_digests[name] == new_digests[name]:
            artifacts["equal"].append(name)
        else:
            artifacts["different"].append(name)
    metrics: dict[str, dict[str, Any]] = {}
    differences: list[str] = []
    within = True
    for name in sorted(set(recorded_metrics) | set(new_metrics)):
        old, new = recorded_metrics.get(name), new_metrics.get(name)
        if old is None or new is None:
            within = False
            metrics[name] = {"recorded": old, "reproduced": new, "difference": None,
                             "within_tolerance": False}
            differences.append(f"metric {name}: " + ("missing in the reproduction" if new is None
                                                     else "not in the recorded run"))
            continue
        ok = tolerance.allows(old, new)
        within &= ok
        metrics[name] = {"recorded": old, "reproduced": new, "difference": new - old,
                         "within_tolerance": ok}
        if new != old:
            differences.append(f"metric {name}: {old!r} -> {new!r} (difference {new - old:+.6g}, "
                               f"tolerance {tolerance})")
    for name in artifacts["different"]:
        differences.append(f"artifact {name}: {recorded_digests[name]} -> {new_digests[name]}")
    for name in artifacts["missing"]:
        differences.append(f"artifact {name}: not produced by the reproduction")
    for name in artifacts["added"]:
        differences.append(f"artifact {name}: produced only by the reproduction")
    if not artifacts["different"] and not artifacts["missing"] and not artifacts["added"] \
            and within:
        result = "equal"
    elif within and not artifacts["missing"] and not artifacts["added"]:
        result = "within-tolerance"
    else:
        result = "different"
    return Comparison(result, artifacts, metrics, differences)


@dataclass
class ReproduceResult:
    run_id: str
    reproduction: TrainResult
    comparison: Comparison
    tolerance: Tolerance
    notes: list[str]

    def to_json(self) -> dict[str, Any]:
        return {"result": self.comparison.result, "run_id": self.run_id,
                "reproduction_run_id": self.reproduction.run_id,
                "tolerance": str(self.tolerance),
                "differences": self.comparison.differences,
                "artifacts": self.comparison.artifacts, "metrics": self.comparison.metrics,
                "image_digest": self.reproduction.image_digest, "notes": self.notes}


def load_recorded(registry: Registry, run_id: str) -> tuple[Any, dict[str, Any]]:
    try:
        run = registry.call("get_run", run_id)
    except NotFound:
        raise InputError(f"no MLflow run {run_id!r} at {registry.where}", key="RUN_ID") from None
    text = registry.artifact_text(run_id, LINEAGE_ARTIFACT)
    if text is None:
        raise InputError(f"run {run_id} has no {LINEAGE_ARTIFACT}: it was not recorded by "
                         "mlci train, so there is nothing to reproduce", key="RUN_ID")
    return run, lineage.parse(text, origin=f"runs:/{run_id}/{LINEAGE_ARTIFACT}")


def reproduce(run_id: str, *, tracking_uri: str, base_dir: Path, tolerance: Tolerance,
              engine: str | None = None, data: list[str] | None = None,
              timeout: float | None = None, outputs: Path | None = None) -> ReproduceResult:
    from mlci.train.engine import choose

    registry = Registry(tracking_uri)
    run, document = load_recorded(registry, run_id)
    pred = document["predicate"]
    rec_run, rec_image, rec_data = pred.get("run") or {}, pred.get("image") or {}, \
        pred.get("data") or {}
    notes: list[str] = []
    if rec_run.get("backend") == "sagemaker":
        raise InputError(f"run {run_id} ran as a SageMaker training job; reproduce runs on a "
                         "container engine here only", key="RUN_ID")

    # -- the data must be the recorded data ----------------------------------------------------
    paths = list(data) if data else list(rec_data.get("paths") or [])
    recorded_fp = rec_data.get("fingerprint")
    current = snapshot_data(paths, base_dir)
    if current.fingerprint != recorded_fp:
        raise InputError(
            f"refused: the data fingerprint is {current.fingerprint or '(no data)'} now, but run "
            f"{run_id} was trained on {recorded_fp or '(no data)'} (paths {paths} relative to "
            f"{base_dir}); a reproduction on different data proves nothing",
            key=names.DATA_FINGERPRINT)

    # -- the engine and the image -----------------------------------------------------------
    rec_engine = (pred.get("engine") or {}).get("name")
    wanted = engine or ("local" if rec_engine == "local" else
                        rec_engine if rec_engine in ("docker", "podman") else "auto")
    if engine is None and wanted != "local":
        try:
            chosen = choose(wanted)
        except InputError:
            chosen = choose("auto")
            notes.append(f"the recorded engine {rec_engine} does not work here; used "
                         f"{chosen.name}")
    else:
        chosen = choose(wanted)
    image: str | None = None
    containerfile: Path | None = None
    context: Path | None = None
    if chosen.containerized:
        if rec_image.get("id") and chosen.exists(rec_image["id"]):
            image = rec_image["id"]
        elif rec_image.get("repo_digest"):
            image = rec_image["repo_digest"]
        elif rec_image.get("containerfile"):
            containerfile = base_dir / rec_image["containerfile"]
            context = base_dir / (rec_image.get("context") or ".")
            if not containerfile.is_file():
                raise InputError(f"the recorded image {rec_image.get('id')} is not present for "
                                 f"{chosen.name}, and its Containerfile is not here to rebuild "
                                 "it", file=str(containerfile), key="RUN_ID")
            from mlci.train.outputs import sha256_file

            if sha256_file(containerfile) != rec_image.get("containerfile_sha256"):
                raise InputError("the recorded image is not present and this Containerfile "
                                 "differs from the recorded one (sha256 "
                                 f"{rec_image.get('containerfile_sha256')}); it cannot stand for "
                                 "the recorded image", file=str(containerfile), key="RUN_ID")
            notes.append(f"the recorded image {rec_image.get('id')} was not present; rebuilt "
                         f"from {rec_image['containerfile']} (same sha256)")
        else:
            raise InputError(f"the recorded image {rec_image.get('ref')} "
                             f"({rec_image.get('id')}) is not present for {chosen.name} and "
                             "has no registry digest to pull", key="RUN_ID")
    else:
        image = rec_image.get("ref") or None

    # -- the code must be the recorded code, where it comes from this tree ------------------
    # A recorded image that is present (or pulled by digest) pins the code itself; a rebuild
    # from the Containerfile or a run on the host takes it from the working tree.
    if containerfile is not None or not chosen.containerized:
        code = check_code(pred.get("code") or {}, base_dir, run_id)
        if code.note:
            notes.append(code.note)

    # -- the environment ------------------------------------------------------------------
    env: dict[str, str] = {}
    for name, value in (rec_run.get("env") or {}).items():
        if value is None:
            if name not in os.environ:
                raise InputError(f"the recorded run had {name} (recorded by name only, it looks "
                                 "secret); set it in the environment to reproduce", key=name)
            env[name] = os.environ[name]
        else:
            env[name] = value

    experiment = _experiment_name(registry, run.info.experiment_id) or "mlci"
    settings = Settings(
        command=rec_run.get("command") or "", base_dir=base_dir, containerfile=containerfile,
        context=context, image=image, data=paths, seed=int(rec_run.get("seed", 0)),
        experiment=experiment, engine=chosen.name if chosen.name != "local" else "local",
        gpus=rec_run.get("gpus"), timeout=timeout if timeout is not None else
        rec_run.get("timeout_seconds"), network=rec_run.get("network") or "default", env=env,
        cpus=rec_run.get("cpus"), memory=rec_run.get("memory"), tracking_uri=tracking_uri,
        outputs=outputs, run_name=f"reproduce-{run_id[:8]}",
        extra_tags={names.REPRODUCES: run_id}, pull=True)
    new = train(settings)
    if new.image and rec_image.get("id") and new.image.id != rec_image["id"]:
        notes.append(f"the image ID differs: recorded {rec_image['id']}, now {new.image.id}")
    recorded_metrics = {k: float(v) for k, v in run.data.metrics.items()}
    comparison = compare(lineage.subject_digests(document), new.digests, recorded_metrics,
                         new.metrics, tolerance)
    _tag(registry, new.run_id, comparison.result)
    return ReproduceResult(run_id, new, comparison, tolerance, notes)


def _experiment_name(registry: Registry, experiment_id: str) -> str | None:
    try:
        return str(registry.call("get_experiment", experiment_id).name)
    except NotFound:
        return None


def _tag(registry: Registry, run_id: str, result: str) -> None:
    try:
        registry.call("set_tag", run_id, names.REPRODUCE_RESULT, result)
    except (NotFound, Conflict, ServiceError) as error:
        # the comparison stands; say the tag is missing
        from mlci import ci

        ci.current().warning(f"could not tag run {run_id} with the result: {error}")
