"""The action's Dockerfile pins its base image by digest (as its pip dependencies are pinned by
hash), and the offline test bed builds it from the stand-in that carries the same public tag."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from testbed import action_image, base_images

REPO = Path(__file__).resolve().parents[3]
PINNED = re.compile(r"^python:3\.\d+-slim-bookworm@sha256:[0-9a-f]{64}$")


def test_every_stage_starts_from_the_digest_pinned_base() -> None:
    text = (REPO / "Dockerfile").read_text()
    default = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", text, re.MULTILINE)
    assert default is not None
    assert PINNED.match(default.group(1)), default.group(1)
    sources = re.findall(r"^FROM (\S+)", text, re.MULTILINE)
    assert len(sources) >= 2, sources
    assert set(sources) == {"${PYTHON_IMAGE}"}, sources


def test_the_test_bed_builds_from_the_stand_in_under_the_same_tag() -> None:
    base = action_image.base_image()
    assert "@" not in base
    assert re.search(r"^ARG PYTHON_IMAGE=" + re.escape(base) + "@sha256:",
                     (REPO / "Dockerfile").read_text(), re.MULTILINE)
    assert base in base_images.STAND_IN_TAGS


def test_a_dockerfile_without_the_pin_is_refused(tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM python:3.11-slim-bookworm\n")
    with pytest.raises(RuntimeError, match="no `ARG PYTHON_IMAGE=<image>` default"):
        action_image.base_image(dockerfile)
