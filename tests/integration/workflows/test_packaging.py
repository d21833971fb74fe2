"""The templates travel with the code: a wheel of this checkout carries them (real files, not
the link the source tree uses), and `modelship init` renders from that wheel."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]


def test_a_wheel_carries_the_templates_and_init_renders_from_it(tmp_path: Path):
    # build from a copy, so the build leaves nothing in the checkout
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "src", "workflow-templates"):
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, source / name, symlinks=True,
                            ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy(REPO / name, source / name)
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w",
                            str(tmp_path / "dist"), str(source)], capture_output=True,
                           text=True, check=False, timeout=600)
    assert build.returncode == 0, build.stderr[-3000:]
    wheel = next((tmp_path / "dist").glob("modelship-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        archive.extractall(tmp_path / "site")
    templates = {Path(n).name for n in names if "/workflows/templates/" in n}
    source = {p.name for p in (REPO / "workflow-templates").iterdir()}
    assert templates == source
    assert not (tmp_path / "site" / "modelship" / "workflows" / "templates").is_symlink()

    target = tmp_path / "repo"
    target.mkdir()
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site")}
    env.pop("MODELSHIP_WORKFLOW_TEMPLATES", None)
    proc = subprocess.run([sys.executable, "-m", "modelship", "init", "--yes", "--dir",
                           str(target), "--action", "acme/modelship@" + "c" * 40],
                          cwd=tmp_path, env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert (target / ".github" / "workflows" / "modelship-cd.yml").is_file()
