"""serve.warmup: N requests to each new pod before it counts for analysis.

A runtime's first requests are slow (lazy weights, JIT, caches): judged cold, a good version
looks slower than production. Before each step is analysed, every ready pod of the new version
not warmed yet gets N eval-set requests, straight to the pod through the API server's pod proxy
(a Service would spread them unevenly); the step's evidence then starts after the warm-up, so
these requests are not counted.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from modelship import serving
from modelship.config import Config
from modelship.release.analysis.base import Endpoint, Progress, StepContext


def _ready_pods(session: Any, api: str, step: StepContext) -> list[str]:
    track = step.labels.get("track", "canary")
    selector = f"app.kubernetes.io/instance={step.release},modelship.io/track={track}"
    response = session.get(f"{api}/api/v1/namespaces/{quote(step.namespace, safe='')}/pods",
                           params={"labelSelector": selector}, timeout=30)
    response.raise_for_status()
    names = []
    for pod in response.json().get("items", []):
        conditions = (pod.get("status") or {}).get("conditions") or []
        if pod["metadata"].get("deletionTimestamp") is None and any(
                c.get("type") == "Ready" and c.get("status") == "True" for c in conditions):
            names.append(pod["metadata"]["name"])
    return names


class Warmup:
    """Warms the new version's ready pods that are not warm yet; the step it returns starts
    its evidence after the warm-up."""

    def __init__(self, spec: serving.ServeSpec, bodies: Sequence[serving.JSON]) -> None:
        self.spec = dataclasses.replace(spec, retries=0)
        self.bodies = list(bodies)
        self.warmed: set[str] = set()

    def __call__(self, step: StepContext, progress: Progress) -> StepContext:
        if step.canary is None:
            return step
        self.warm(step, step.canary, progress)
        return dataclasses.replace(step, started_at=time.time())

    def warm(self, step: StepContext, endpoint: Endpoint, progress: Progress) -> None:
        import requests

        api = endpoint.base_url.split("/api/v1/", 1)[0]
        session = endpoint.sessions() if endpoint.sessions else requests.Session()
        with session, serving.Client(self.spec, sessions=lambda: session) as client:
            for pod in _ready_pods(session, api, step):
                if pod in self.warmed:
                    continue
                url = (f"{api}/api/v1/namespaces/{quote(step.namespace, safe='')}/pods/"
                       f"{quote(pod, safe='')}:{self.spec.port}/proxy{self.spec.predict}")
                answered = sum(client.predict(url, self.bodies[i % len(self.bodies)]).ok
                               for i in range(self.spec.warmup))
                self.warmed.add(pod)
                progress(f"{step.step}: warmed {pod} with {self.spec.warmup} requests "
                         f"({answered} answered)")


def from_config(cfg: Config) -> Warmup | None:
    """serve.warmup's Warmup (None without it). The requests are the eval set's first rows
    (gate.online.eval_set), else image.smoke.request."""
    spec = serving.ServeSpec.from_config(cfg)
    if spec.warmup <= 0:
        return None
    path = cfg.get_path("gate.online.eval_set", "eval/eval.jsonl")
    rows = serving.load_rows(path, limit=spec.warmup) if path.is_file() else []
    bodies = [serving.request_body(spec, row) for row in rows]
    if not bodies and cfg.has("image.smoke.request"):
        bodies = [cfg.raw("image.smoke.request")]
    if not bodies:
        raise cfg.error("serve.warmup", f"has nothing to send: {path} does not exist",
                        hint="set gate.online.eval_set or image.smoke.request")
    return Warmup(spec, bodies)
