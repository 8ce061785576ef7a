"""The version has one source, `__version__` in src/mlci/__init__.py: the package metadata, the
templates' defaults (`mlci-install`, `image`), the image build, the action's setup, the release
check and the changelog all follow it. A release that bumps one place and forgets another fails
here."""

from __future__ import annotations

import re
from importlib.metadata import version as installed_version
from pathlib import Path

import pytest
import yaml

from mlci import __version__

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]
IMAGE_REPO = "ghcr.io/mlci-dev/mlci"


def spec_inputs(path: Path) -> dict[str, dict[str, object]]:
    header = path.read_text(encoding="utf-8").split("\n---\n", 1)[0]
    return yaml.safe_load(header)["spec"]["inputs"]  # type: ignore[no-any-return]


def test_the_package_metadata_is_the_source_version() -> None:
    assert installed_version("mlci") == __version__
    assert 'path = "src/mlci/__init__.py"' in (ROOT / "pyproject.toml").read_text()


@pytest.mark.parametrize("template", sorted(p.name for p in (ROOT / "gitlab-templates").glob("*.yml")))
def test_template_defaults_pin_this_version(template: str) -> None:
    inputs = spec_inputs(ROOT / "gitlab-templates" / template)
    install = inputs.get("mlci-install", {}).get("default")
    if install is not None:
        assert re.fullmatch(rf"mlci(\[[a-z0-9,]+\])?=={re.escape(__version__)}", str(install)), \
            (template, install)
    image = str(inputs.get("image", {}).get("default", ""))
    if image.startswith(IMAGE_REPO):
        assert image == f"{IMAGE_REPO}:{__version__}", template
    # Documentation in the template's header says the same.
    text = (ROOT / "gitlab-templates" / template).read_text()
    for pinned in re.findall(r"mlci(?:\[[a-z0-9,]+\])?==(\d+\.\d+\.\d+)", text):
        assert pinned == __version__, (template, pinned)


def test_the_mlci_image_is_the_default_where_no_container_engine_is_needed() -> None:
    for template in ("base", "gate", "promote", "data-change", "validate-data", "canary-deploy"):
        image = spec_inputs(ROOT / "gitlab-templates" / f"{template}.yml")["image"]["default"]
        assert image == f"{IMAGE_REPO}:{__version__}", template


def test_build_setup_release_and_changelog_read_the_same_source() -> None:
    setup = (ROOT / "scripts" / "setup-mlci.sh").read_text()
    assert "src/mlci/__init__.py" in setup and "__version__" in setup
    release = (ROOT / "scripts" / "release.sh").read_text()
    assert "src/mlci/__init__.py" in release
    containerfile = (ROOT / "docker" / "Containerfile").read_text()
    # VERSION is given by the release build: no default that could go stale.
    assert re.search(r"^ARG VERSION$", containerfile, re.MULTILINE)
    assert f"## [{__version__}]" in (ROOT / "CHANGELOG.md").read_text()
