"""Fixtures for rendering helm-chart/ with the real helm CLI (no cluster needed)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import yaml
from tests.unit.chart.chart_render import CHART, Rendered, find_helm, run_helm


@pytest.fixture(scope="session")
def helm_bin() -> str:
    return find_helm()


@pytest.fixture(scope="session")
def render(helm_bin: str) -> Callable[..., Rendered]:
    """render(values, scenario=None, api_versions=(), release="sentiment") -> documents."""

    def run(values: dict[str, Any] | None = None, scenario: str | None = None,
            api_versions: tuple[str, ...] = (), release: str = "sentiment",
            show_only: str | None = None) -> Rendered:
        args = ["template", release, str(CHART), "--namespace", "models"]
        for api in api_versions:
            args += ["--api-versions", api]
        if show_only:
            args += ["--show-only", show_only]
        result = run_helm(helm_bin, *args, values=values,
                          files=(scenario,) if scenario else ())
        assert result.returncode == 0, f"helm template failed:\n{result.stderr}"
        return Rendered(d for d in yaml.safe_load_all(result.stdout) if d)

    return run


@pytest.fixture(scope="session")
def refuse(helm_bin: str) -> Callable[..., str]:
    """refuse(values) -> helm's error message; fails the test when helm renders them."""

    def run(values: dict[str, Any], scenario: str | None = None) -> str:
        result = run_helm(helm_bin, "template", "sentiment", str(CHART), values=values,
                          files=(scenario,) if scenario else ())
        assert result.returncode != 0, f"helm accepted {values}:\n{result.stdout[:2000]}"
        return result.stderr

    return run
