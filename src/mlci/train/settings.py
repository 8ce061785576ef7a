"""A training run's settings: flags over mlci.yml (`train:`) over defaults, in one place.

The command line (`mlci.commands.train`) collects the flags into `TrainFlags`; everything
that decides what they mean -- which image source wins, the build context's default, the
timeout's units, the experiment name -- is here, so the CLI, the actions and the templates
share it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlci.config.model import parse_duration
from mlci.errors import InputError
from mlci.tracking import resolve_tracking_uri
from mlci.train.runner import DEFAULT_EXPERIMENT, Settings, parse_env


@dataclass
class TrainFlags:
    """The flags of `mlci train` (None: not given)."""

    command: str | None = None
    containerfile: str | None = None
    context: str | None = None
    image: str | None = None
    data: list[str] | None = None
    seed: int | None = None
    experiment: str | None = None
    engine: str | None = None
    gpus: str | None = None
    timeout: str | None = None
    network: str | None = None
    env: list[str] = field(default_factory=list)
    cpus: str | None = None
    memory: str | None = None
    outputs: str | None = None
    run_name: str | None = None


def resolve_settings(flags: TrainFlags, cfg: Any) -> Settings:
    """Settings of one run: flags over mlci.yml over defaults."""
    train = cfg.train
    from_flags_image = flags.containerfile or flags.image
    containerfile = flags.containerfile if from_flags_image else train.containerfile
    image = flags.image if from_flags_image else train.image
    if flags.containerfile and flags.image:
        raise InputError("give either --containerfile or --image, not both", key="--image")
    timeout: float | None = train.timeout
    if flags.timeout is not None:
        try:
            timeout = parse_duration(flags.timeout)
        except ValueError as error:
            raise InputError(str(error), key="--timeout") from None
    engine = flags.engine or train.engine
    if engine == "local" and containerfile and not flags.containerfile:
        containerfile = None  # `--engine local` runs on the host: mlci.yml's image is not built
    cf_path: Path | None = None
    context: Path | None = None
    if containerfile:
        cf_path = Path(containerfile) if flags.containerfile else cfg.resolve_path(containerfile)
        # One default on every path (flag, action input, mlci.yml): without a context, the
        # Containerfile's own directory. train.context belongs to train.containerfile, so a
        # --containerfile flag does not inherit it.
        if flags.context:
            context = Path(flags.context)
        elif not flags.containerfile and train.context:
            context = cfg.resolve_path(train.context)
        else:
            context = cf_path.parent
    env = dict(train.env)
    env.update(parse_env(flags.env or []))
    data = list(flags.data) if flags.data else list(cfg.data.paths)
    experiment = flags.experiment or train.experiment or cfg.model or DEFAULT_EXPERIMENT
    settings = Settings(
        command=flags.command or train.command or "",
        base_dir=cfg.base_dir,
        containerfile=cf_path, context=context, image=image,
        data=data,
        seed=flags.seed if flags.seed is not None else train.seed,
        experiment=experiment,
        engine=engine,
        gpus=flags.gpus or train.gpus,
        timeout=timeout,
        network=flags.network or train.network,
        env=env, cpus=flags.cpus, memory=flags.memory,
        tracking_uri=resolve_tracking_uri(cfg.registry.tracking_uri),
        outputs=Path(flags.outputs) if flags.outputs else None,
        run_name=flags.run_name,
    )
    if settings.seed < 0:
        raise InputError(f"expected a seed >= 0, got {settings.seed}", key="--seed")
    return settings
