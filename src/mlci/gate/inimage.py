"""`mlci evaluate` in the training run's own image (the default when the run recorded one).

Scoring with this host's libraries escapes the environment the model was trained in (a
scikit-learn 1.9 host loading a 1.2 pickle). When the model is `runs:/...` or `models:/...`
and its run's lineage (`mlci/lineage.json`, written by `mlci train`) names a container
image, the model is scored in that image: the image ID when this engine has it, else its
registry digest (pulled); an image that is neither here nor pullable is an input error
(exit 2) that says `--engine local` scores on this host instead. The model must be an MLflow
`python_function` model with a `loader_module` (see docs/promote.md, "What model/ must
contain"); the image needs python3 and what the model's code imports, not MLflow.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlci.errors import InputError

_CONTAINER_ENGINES = ("docker", "podman")


@dataclass(frozen=True)
class ImagePlan:
    """Where the model is scored: an engine and the image ID it runs."""

    engine: Any            # mlci.train.engine.Engine
    image: str             # image ID
    shown: str             # what the user reads (ref and digest)
    run_id: str


def run_id_of(uri: str, registry: Any) -> str | None:
    """The MLflow run behind a model URI (None: a local directory)."""
    from mlci.registry.client import NotFound

    if uri.startswith("runs:/"):
        return uri[len("runs:/"):].split("/", 1)[0] or None
    if not uri.startswith("models:/"):
        return None
    name, _, rest = uri[len("models:/"):].partition("@")
    try:
        if rest:
            version = registry.call("get_model_version_by_alias", name, rest)
        else:
            name, _, number = name.partition("/")
            version = registry.call("get_model_version", name, number)
    except NotFound as error:
        raise InputError(f"cannot load {uri} from {registry.where}: {error.message}",
                         key="model") from None
    return str(version.run_id) if version.run_id else None


def plan(uri: str, tracking_uri: str | None, engine: str) -> ImagePlan | None:
    """The image to score in, or None to score on this host (asked, or nothing recorded)."""
    from mlci.registry.client import Registry
    from mlci.train import LINEAGE_ARTIFACT, lineage
    from mlci.train.engine import choose

    if engine == "local":
        return None
    forced = engine in _CONTAINER_ENGINES
    run_id = text = None
    if uri.startswith(("runs:/", "models:/")):
        registry = Registry(tracking_uri)
        run_id = run_id_of(uri, registry)
        text = registry.artifact_text(run_id, LINEAGE_ARTIFACT) if run_id else None
    rec_image: dict[str, Any] = {}
    rec_engine = None
    if text is not None:
        pred = lineage.parse(text, origin=f"runs:/{run_id}/{LINEAGE_ARTIFACT}")["predicate"]
        rec_image = pred.get("image") or {}
        rec_engine = (pred.get("engine") or {}).get("name")
    if not (rec_image.get("id") or rec_image.get("repo_digest")):
        if forced:
            raise InputError(f"--engine {engine} scores in the training run's image, but "
                             f"{uri} names no run trained by `mlci train` in a container "
                             "(no image recorded); use --engine local", key="--engine")
        return None  # nothing pins the environment: the host is all there is
    assert run_id is not None
    chosen = choose(engine if forced else
                    rec_engine if rec_engine in _CONTAINER_ENGINES else "auto")
    shown = f"{rec_image.get('ref') or '(built)'} {rec_image.get('digest') or rec_image['id']}"
    if rec_image.get("id") and chosen.exists(rec_image["id"]):
        return ImagePlan(chosen, rec_image["id"], shown, run_id)
    if rec_image.get("repo_digest"):
        return ImagePlan(chosen, chosen.resolve(rec_image["repo_digest"]).id, shown, run_id)
    raise InputError(f"run {run_id} was trained in the image {shown}, which {chosen.name} does "
                     "not have here (built on another machine?) and which has no registry "
                     "digest to pull: build or load that image here, or give --engine local to "
                     "score with this host's libraries instead", key="--engine")


def mlmodel(model_dir: Path, uri: str) -> dict[str, Any]:
    """The `python_function` flavor of model/MLmodel, and its signature's input names."""
    from mlci.yamlfile import load_file

    path = model_dir / "MLmodel"
    if not path.is_file():
        raise InputError(f"{uri} has no MLmodel file: mlci evaluate loads an MLflow "
                         "python_function model (see docs/promote.md)", key="model")
    doc = load_file(path, what="MLmodel")
    doc = doc if isinstance(doc, dict) else {}
    flavors = doc.get("flavors")
    flavors = flavors if isinstance(flavors, dict) else {}
    flavor = flavors.get("python_function")
    flavor = flavor if isinstance(flavor, dict) else {}
    if not flavor.get("loader_module"):
        raise InputError("MLmodel has no python_function flavor with a loader_module",
                         file=f"{uri}/MLmodel", key="flavors.python_function.loader_module")
    inputs: list[str] | None = None
    signature = doc.get("signature") or {}
    if isinstance(signature, dict) and isinstance(signature.get("inputs"), str):
        try:
            columns = json.loads(signature["inputs"])
            inputs = [c["name"] for c in columns if isinstance(c, dict) and "name" in c] or None
        except (ValueError, TypeError):
            inputs = None
    return {"loader_module": str(flavor["loader_module"]), "code": flavor.get("code"),
            "data": flavor.get("data"), "inputs": inputs}


def score(target: ImagePlan, uri: str, download: Any, features: Any,
          want_score: bool) -> dict[str, Any]:
    """Score `features` (a DataFrame) with the model at `uri` in the planned image; returns
    {"prediction": [...], "proba": [...] | None, "classes": [...] | None}.

    `download(uri, dst)` fetches the model directory (the registry layer's retry policy)."""
    from mlci.train.engine import Mount, RunSpec

    work = Path(tempfile.mkdtemp(prefix="mlci-evaluate-"))
    try:
        model_dir = Path(download(uri, str(work / "model")))
        flavor = mlmodel(model_dir, uri)
        inp, out, bin_dir = work / "in", work / "out", work / "bin"
        for folder in (inp, out, bin_dir):
            folder.mkdir()
        os.chmod(out, 0o777)  # noqa: S103 - the image's user may not be ours
        shutil.copy(Path(__file__).with_name("image_scorer.py"), bin_dir / "image_scorer.py")
        if flavor["inputs"]:
            missing = [c for c in flavor["inputs"] if c not in features.columns]
            if missing:
                raise InputError(f"the model's signature needs column(s) {', '.join(missing)} "
                                 "that the dataset does not have", key="data")
            features = features[flavor["inputs"]]
        features.to_csv(inp / "features.csv", index=False)
        (inp / "job.json").write_text(json.dumps({**flavor, "score": want_score}),
                                      encoding="utf-8")
        for path in (inp, bin_dir, model_dir):
            os.chmod(path, 0o755)  # noqa: S103 - readable by the image's user
        spec = RunSpec(image=target.image, command="exec python3 /mlci/bin/image_scorer.py",
                       name=f"mlci-evaluate-{secrets.token_hex(4)}", network="none",
                       mounts=[Mount(model_dir, "/mlci/model"), Mount(inp, "/mlci/in"),
                               Mount(bin_dir, "/mlci/bin"),
                               Mount(out, "/mlci/out", read_only=False)])
        result = target.engine.run(spec)
        error = out / "error.txt"
        if result.returncode != 0 or not (out / "result.json").is_file():
            why = (error.read_text(encoding="utf-8").strip() if error.is_file() else
                   f"exit code {result.returncode} (its output is above)")
            raise InputError(f"scoring {uri} in its training image {target.shown} "
                             f"({target.engine.name}) failed: {why}. --engine local scores "
                             "with this host's libraries instead", key="model")
        loaded: dict[str, Any] = json.loads((out / "result.json").read_text(encoding="utf-8"))
        return loaded
    finally:
        shutil.rmtree(work, ignore_errors=True)
