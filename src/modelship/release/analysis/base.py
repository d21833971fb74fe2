"""The seam between the release runner and canary analysis.

The runner applies a step (chart values), waits for readiness, then calls
`Analysis.assess(step)`. An analysis owns its waiting: it may return as soon as the evidence is
clear (sequential) or hold up to its own `max_wait`. The runner acts on the verdict only:
passed -> next step; failed -> abort, exit 1; inconclusive or error -> abort, exit 3
(production stays on the last good version either way).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    import requests

Verdict = Literal["passed", "failed", "inconclusive", "error"]
Progress = Callable[[str], None]


@dataclass(frozen=True)
class Endpoint:
    """Where a version's pods answer: a base URL that serve.* paths are appended to, and how
    to open sessions to it (None: plain HTTP; the runner passes the API server's service
    proxy with the kubeconfig's credentials). An Endpoint is None when the step has nothing
    to reach (e.g. no per-track Service)."""

    base_url: str
    version: str
    digest: str | None = None
    sessions: Callable[[], requests.Session] | None = field(default=None, compare=False,
                                                            repr=False)

    def url(self, path: str) -> str:
        return f"{self.base_url.rstrip('/')}/{path.lstrip('/')}"


@dataclass(frozen=True)
class StepContext:
    """One step of a release as the analysis sees it."""

    release: str
    namespace: str
    environment: str | None
    strategy: str  # canary | blue-green | rolling
    step: str  # e.g. "canary-25", "preview", "bake"
    weight: int  # canary share the chart rendered for this step, 0-100
    interval_seconds: float  # how long one analysis interval lasts
    started_at: float = field(default_factory=time.time)  # when this step's traffic began
    stable: Endpoint | None = None  # the version in production now
    canary: Endpoint | None = None  # the new version (canary track or preview colour)
    labels: Mapping[str, str] = field(default_factory=dict)  # {track}, {release}, ... for queries
    mirrored: bool = False  # shadow: the new version gets a copy of every live request


@dataclass(frozen=True)
class StepVerdict:
    verdict: Verdict
    reason: str  # one line a person reads: which evidence decided
    evidence: Mapping[str, object] = field(default_factory=dict)  # -> steps[].evidence


class Analysis(Protocol):
    """What the runner asks of an analysis: a step's verdict; after 100%, the bake (keep
    judging production while the previous version can still take over) and how long it
    lasts; and what an inconclusive step does (`hold`: paused for a person, `abort`)."""

    def assess(self, step: StepContext, progress: Progress) -> StepVerdict: ...

    def bake(self, step: StepContext, progress: Progress) -> StepVerdict: ...

    @property
    def bake_seconds(self) -> float: ...

    @property
    def on_inconclusive(self) -> str: ...


class ReadinessOnly:
    """No analysis configured: the step passes once it has been ready for one interval."""

    def __init__(self, sleep: Callable[[float], None] = time.sleep) -> None:
        self._sleep = sleep

    def assess(self, step: StepContext, progress: Progress) -> StepVerdict:
        remaining = step.interval_seconds - (time.time() - step.started_at)
        if remaining > 0:
            progress(f"{step.step}: no analysis configured, holding {remaining:.0f}s")
            self._sleep(remaining)
        return StepVerdict("passed", "no analysis configured: ready for one interval",
                           {"interval_seconds": step.interval_seconds})

    def bake(self, step: StepContext, progress: Progress) -> StepVerdict:
        return StepVerdict("passed", "no bake configured", {"bake_seconds": 0})

    @property
    def bake_seconds(self) -> float:
        return 0.0

    @property
    def on_inconclusive(self) -> str:
        return "hold"
