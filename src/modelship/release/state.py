"""The release as it is: Helm (revisions, status, values) and the live Deployments and pods
(ready replicas, images, pod problems with their events), read through the kubernetes client."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from modelship.release import history, kube
from modelship.release import strategy as strategies
from modelship.release.desired import Desired, Version
from modelship.release.helm import Helm, Revision
from modelship.release.history import Record
from modelship.release.values import desired_from_values, fullname, user_values

TRACKS = ("stable", "canary", "blue", "green")
_WAITING_PROBLEMS = ("ImagePullBackOff", "ErrImagePull", "CrashLoopBackOff",
                     "CreateContainerConfigError", "InvalidImageName", "CreateContainerError",
                     "RunContainerError")
GPU = "nvidia.com/gpu"


@dataclass(frozen=True)
class Live:
    """One serving Deployment as the cluster has it."""

    name: str
    track: str
    replicas: int  # spec
    ready: int
    image: str
    version: str


@dataclass(frozen=True)
class PodProblem:
    pod: str
    track: str
    reason: str  # ImagePullBackOff, CrashLoopBackOff, Unschedulable, ...
    message: str  # the container's or scheduler's message, else the latest Warning event

    def line(self) -> str:
        return f"pod {self.pod} ({self.track}): {self.reason}: {self.message}"


@dataclass
class ReleaseState:
    release: str
    namespace: str
    revisions: list[Revision] = field(default_factory=list)
    history: list[history.Entry] = field(default_factory=list)
    deployed: int | None = None  # the last revision helm marks deployed
    desired: Desired | None = None  # what the deployed revision's values ask for
    extra: dict[str, Any] = field(default_factory=dict)  # its non-engine values
    record: Record | None = None  # the deployed revision's record

    @property
    def exists(self) -> bool:
        return bool(self.revisions)

    @property
    def latest(self) -> Revision | None:
        return self.revisions[-1] if self.revisions else None

    @property
    def pending(self) -> bool:
        return bool(self.latest and self.latest.status.startswith("pending"))

    @property
    def paused(self) -> bool:
        return bool(self.record and self.record.paused)


def read(helm: Helm, release: str, *, with_history: bool = True) -> ReleaseState:
    """Helm's view of the release. Revisions without a record have their values read."""
    state = ReleaseState(release, helm.namespace)
    state.revisions = helm.history(release)
    if not state.revisions:
        return state
    deployed = [r for r in state.revisions if r.status == "deployed"]
    if deployed:
        state.deployed = deployed[-1].number
        values = helm.values(release, state.deployed)
        state.desired = desired_from_values(values)
        state.extra = user_values(values)

    def track_of(number: int) -> Version | None:
        desired = desired_from_values(helm.values(release, number))
        if desired is None:
            return None
        return strategies.of(desired.strategy).moved_to(desired)

    if with_history:
        state.history = history.entries(state.revisions, track_of)
        state.record = next((e.record for e in state.history if e.revision == state.deployed),
                            None)
    elif state.deployed is not None:
        rev = next(r for r in state.revisions if r.number == state.deployed)
        state.record = history.Record.parse(rev.description)
    return state


def live(api: Any, release: str, namespace: str,
         extra: Mapping[str, Any] | None = None) -> dict[str, Live]:
    """The chart's serving Deployments by track (stable, canary, blue, green) that exist."""
    base = fullname(release, extra)
    found: dict[str, Live] = {}
    try:
        items = kube.get_json(api, f"/apis/apps/v1/namespaces/{namespace}/deployments",
                              {"labelSelector": f"app.kubernetes.io/instance={release}"})
    except kube.api_errors() as e:
        raise kube.unreachable(e, f"reading the Deployments of {release}") from e
    for dep in items.get("items", []):
        meta, spec, status = dep.get("metadata", {}), dep.get("spec", {}), dep.get("status", {})
        for track in TRACKS:
            if meta.get("name") == f"{base}-{track}":
                labels = meta.get("labels") or {}
                annotations = meta.get("annotations") or {}
                found[track] = Live(meta["name"], track, int(spec.get("replicas") or 0),
                                    int(status.get("readyReplicas") or 0),
                                    annotations.get("modelship.io/image", ""),
                                    labels.get("modelship.io/model-version", ""))
    return found


def pod_problems(api: Any, release: str, namespace: str) -> list[PodProblem]:
    """Pods of the release that cannot serve, with the reason and message a person needs."""
    from kubernetes import client

    core: Any = client.CoreV1Api(api)
    try:
        pods = core.list_namespaced_pod(
            namespace, label_selector=f"app.kubernetes.io/instance={release}").items
    except kube.api_errors() as e:
        raise kube.unreachable(e, f"reading the pods of {release}") from e
    problems: list[PodProblem] = []
    for pod in pods:
        if pod.metadata.deletion_timestamp is not None:
            continue
        name = pod.metadata.name
        track = (pod.metadata.labels or {}).get("modelship.io/track", "?")
        found = _container_problem(pod) or _scheduling_problem(pod) or _not_ready(pod)
        if found is None:
            continue
        reason, message = found
        if not message:
            message = _latest_warning(core, namespace, name)
        problems.append(PodProblem(name, track, reason, message))
    return problems


def _container_problem(pod: Any) -> tuple[str, str] | None:
    statuses = list((pod.status.container_statuses or []) if pod.status else [])
    statuses += list((pod.status.init_container_statuses or []) if pod.status else [])
    for status in statuses:
        waiting = status.state.waiting if status.state else None
        if waiting is not None and waiting.reason in _WAITING_PROBLEMS:
            return waiting.reason, waiting.message or ""
        terminated = status.last_state.terminated if status.last_state else None
        if terminated is not None and (status.restart_count or 0) >= 2 and not status.ready:
            return "CrashLoopBackOff", (f"restarted {status.restart_count} times, last exit "
                                        f"{terminated.exit_code} ({terminated.reason})")
    return None


def _not_ready(pod: Any) -> tuple[str, str] | None:
    """Running but not Ready (a failing startup or readiness probe): the message comes from
    the pod's latest Warning event (e.g. "Readiness probe failed: ...")."""
    if not pod.status or pod.status.phase != "Running":
        return None
    for condition in pod.status.conditions or []:
        if condition.type == "Ready" and condition.status == "False":
            return "NotReady", ""
    return None


def _scheduling_problem(pod: Any) -> tuple[str, str] | None:
    if not pod.status or pod.status.phase != "Pending":
        return None
    for condition in pod.status.conditions or []:
        if condition.type == "PodScheduled" and condition.status == "False":
            return condition.reason or "Unschedulable", condition.message or ""
    return None


def _latest_warning(core: Any, namespace: str, pod: str) -> str:
    try:
        events = core.list_namespaced_event(
            namespace, field_selector=f"involvedObject.name={pod},type=Warning").items
    except kube.api_errors():
        return ""
    if not events:
        return ""

    def when(event: Any) -> str:
        stamp = event.last_timestamp or event.event_time or event.metadata.creation_timestamp
        return str(stamp)

    return str(sorted(events, key=when)[-1].message or "")


@dataclass(frozen=True)
class GpuCapacity:
    needed_pods: int
    gpus_per_pod: int
    fits: int  # pods of that size that fit on matching nodes now
    free_by_node: dict[str, int]

    @property
    def enough(self) -> bool:
        return self.fits >= self.needed_pods

    def describe(self) -> str:
        nodes = ", ".join(f"{n}: {f}" for n, f in sorted(self.free_by_node.items())) or "none"
        return (f"a second copy needs {self.needed_pods} pods x {self.gpus_per_pod} {GPU}; "
                f"{self.fits} fit on the matching nodes (free {GPU} per node: {nodes})")


def gpu_capacity(api: Any, *, pods: int, gpus_per_pod: int, product: str | None,
                 product_label: str) -> GpuCapacity:
    """How many pods needing `gpus_per_pod` GPUs fit now on Ready nodes with that product."""
    from kubernetes import client

    core: Any = client.CoreV1Api(api)
    try:
        nodes = core.list_node().items
        running = core.list_pod_for_all_namespaces(
            field_selector="status.phase!=Succeeded,status.phase!=Failed").items
    except kube.api_errors() as e:
        raise kube.unreachable(e, "counting free GPUs") from e
    used: dict[str, int] = {}
    for pod in running:
        node = pod.spec.node_name
        if not node:
            continue
        for container in pod.spec.containers or []:
            resources = container.resources
            limits = (resources.limits or {}) if resources else {}
            requests = (resources.requests or {}) if resources else {}
            count = limits.get(GPU) or requests.get(GPU)
            if count:
                used[node] = used.get(node, 0) + int(count)
    free: dict[str, int] = {}
    for node in nodes:
        labels = node.metadata.labels or {}
        if product and labels.get(product_label) != product:
            continue
        if node.spec.unschedulable:
            continue
        ready = any(c.type == "Ready" and c.status == "True"
                    for c in (node.status.conditions or []))
        allocatable = int((node.status.allocatable or {}).get(GPU, 0) or 0)
        if not ready or allocatable <= 0:
            continue
        free[node.metadata.name] = max(allocatable - used.get(node.metadata.name, 0), 0)
    fits = sum(f // gpus_per_pod for f in free.values()) if gpus_per_pod > 0 else pods
    return GpuCapacity(pods, gpus_per_pod, fits, free)


def route_weight(api: Any, namespace: str, name: str) -> int | None:
    """The canary's share of the HTTPRoute `name` (gateway-api traffic mode), from its
    backendRefs' weights; None when there is no route (nginx mode, or no Gateway API CRD)."""
    from kubernetes import client

    custom: Any = client.CustomObjectsApi(api)
    try:
        route: dict[str, Any] = custom.get_namespaced_custom_object(
            "gateway.networking.k8s.io", "v1", namespace, "httproutes", name)
    except Exception:  # no route: the caller says what was asked
        return None
    weights = {ref.get("name"): ref.get("weight", 1)
               for rule in route.get("spec", {}).get("rules", [])
               for ref in rule.get("backendRefs", [])}
    canary = weights.get(f"{name}-canary", 0)
    total = sum(w for w in weights.values() if isinstance(w, int))
    return round(100 * canary / total) if total else 0
