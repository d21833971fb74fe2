"""Done means done: after a release verb, wait until only the version it moved to serves
through the release's Service. helm's --wait returns once the new pods are ready, while pods
of the old version may still be terminating and still listed in the Service's EndpointSlices
(kube-proxy keeps sending them requests); a smoke test right after would see the old version.

Read with the kubernetes client as plain JSON (discovery.k8s.io/v1 EndpointSlices and the
release's pods), polled every second with progress lines.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from modelship import console
from modelship.release import kube
from modelship.release.desired import Version
from modelship.release.values import fullname

POLL = 1.0
# After a selector switch the old colour's pods keep running (warm): once the EndpointSlices
# hold only the new colour, node proxies still need their sync (kube-proxy's
# --iptables-min-sync-period is 1 s) before no request reaches the old colour. Pods that
# terminate need no such wait: the chart's preStop delay keeps them answering until then.
PROXY_SYNC = 1.0
IMAGE = "modelship.io/image"  # the pod annotation the chart sets to the pinned image
SERVER = "app.kubernetes.io/component=model-server"


class NotDrained(Exception):
    """The old version still served when the time ran out."""


@dataclass(frozen=True)
class Seen:
    expected: bool  # the target's pods have addresses, so the Service must list them
    target_ready: int  # ready endpoints of the target version in the Service
    others: tuple[str, ...]  # endpoints (pod names) of any other version, or unknown pods
    lingering: tuple[str, ...]  # pods of another version that still exist

    def done(self, pods_gone: bool) -> bool:
        serves = self.target_ready > 0 or not self.expected
        return serves and not self.others and not (pods_gone and self.lingering)

    def describe(self) -> str:
        parts = [f"{self.target_ready} ready endpoints of the target"]
        if self.others:
            parts.append(f"{len(self.others)} of another version in the Service")
        if self.lingering:
            parts.append(f"{len(self.lingering)} old pods still terminating")
        return ", ".join(parts)


def look(api: Any, namespace: str, release: str, extra: Mapping[str, Any],
         target: Version) -> Seen:
    service = fullname(release, extra)
    try:
        slices = kube.get_json(api, f"/apis/discovery.k8s.io/v1/namespaces/{namespace}/"
                               "endpointslices",
                               {"labelSelector": f"kubernetes.io/service-name={service}"})
        pods = kube.get_json(api, f"/api/v1/namespaces/{namespace}/pods",
                             {"labelSelector": f"app.kubernetes.io/instance={release},{SERVER}"})
    except kube.api_errors() as e:
        raise kube.unreachable(e, f"reading the endpoints of {service}") from e
    items = pods.get("items", [])
    image = {p["metadata"]["name"]: (p["metadata"].get("annotations") or {}).get(IMAGE, "")
             for p in items}
    addressed = {p["metadata"]["name"] for p in items if (p.get("status") or {}).get("podIP")}
    return judge(slices.get("items", []), image, target.image, addressed)


def judge(slices: list[dict[str, Any]], image_of: Mapping[str, str], target: str,
          addressed: set[str]) -> Seen:
    """Pure: which endpoints serve the target image, which serve anything else (a pod not of
    the target, or one already gone from the pod list), and which old pods still exist. The
    target must be in the Service when the Service exists and its pods have addresses."""
    ready, others = 0, []
    for item in slices:
        for endpoint in item.get("endpoints") or []:
            ref = endpoint.get("targetRef") or {}
            name = ref.get("name", "?")
            if image_of.get(name) == target:
                ready += bool((endpoint.get("conditions") or {}).get("ready", True))
            else:
                others.append(name)
    lingering = tuple(n for n, i in image_of.items() if i != target)
    expected = bool(slices) and any(image_of.get(n) == target for n in addressed)
    return Seen(expected, ready, tuple(others), lingering)


def wait(api: Any, namespace: str, release: str, extra: Mapping[str, Any], target: Version,
         *, pods_gone: bool, timeout: float) -> float:
    """Wait until only `target` serves through the Service (`pods_gone`: and no pod of another
    version exists any more); the seconds it took. NotDrained after `timeout`."""
    begun = time.monotonic()
    seen = look(api, namespace, release, extra, target)
    if seen.done(pods_gone):
        if not pods_gone:
            time.sleep(PROXY_SYNC)
        return time.monotonic() - begun
    progress = console.Progress(f"waiting until only {target.version} serves through the "
                                "Service")
    while not seen.done(pods_gone):
        if time.monotonic() - begun > timeout:
            progress.done("gave up")
            raise NotDrained(f"after {timeout:.0f}s another version still serves or exists: "
                             f"{seen.describe()}")
        progress.tick(seen.describe())
        time.sleep(POLL)
        seen = look(api, namespace, release, extra, target)
    if not pods_gone:
        time.sleep(PROXY_SYNC)
    seconds = time.monotonic() - begun
    progress.done(f"only {target.version} serves ({seconds:.1f}s)")
    return seconds
