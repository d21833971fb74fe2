"""Helpers for tests that run real pods on the test bed's real node: the example model image
(built with `modelship build --push` once per session), a wget image for `helm test`, pull
secrets for the authenticated registry, and per-pod request counts read from each pod's own
/metrics (exact, where Prometheus would add scrape delay)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import tempfile
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from testbed import base_images

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
CA = "/etc/ssl/certs/ca-certificates.crt"
NODE_NAME = "node-0"
PULL_SECRET = "testbed-registry"
SERVE_PORT = 8080
# small requests: the real node has 2 CPUs shared with the whole test bed
SMALL = {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"memory": "256Mi"}}

_images: dict[str, str] = {}


def _session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # 127.0.0.1, pod and Service IPs: never through a proxy
    return session


def modelship_build_push(registry: Any, config: Path, repository: str, *extra: str,
                         timeout: float) -> subprocess.CompletedProcess[str]:
    """`modelship build --push --json --no-smoke` of this checkout, as a terminal user runs it
    (no GitHub runtime files), with the test registry's credentials."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"),
           "MODELSHIP_REGISTRY_USER": registry.user,
           "MODELSHIP_REGISTRY_PASSWORD": registry.password}
    if Path(CA).is_file():
        env["PIP_CERT"] = CA
    for name in ("GITHUB_ACTIONS", "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY"):
        env.pop(name, None)
    return subprocess.run(
        [sys.executable, "-m", "modelship", "build", "--config", str(config), "--push",
         "--json", "--no-smoke", "--repository", repository, *extra],
        env=env, capture_output=True, text=True, timeout=timeout, check=False)


def example_image(registry: Any, project: str = "sentiment") -> str:
    """examples/<project> built and pushed with `modelship build --push`; `repo@sha256:...`.
    Built once per session (the first build takes a few minutes, later ones hit the cache;
    the variants share the example's dependency layers)."""
    key = f"{project}@{registry.host}"
    if key in _images:
        return _images[key]
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "gate-report.json"
        report.write_text(json.dumps({"passed": True, "n": 60, "metrics": {"accuracy": 1.0},
                                      "checks": []}))
        result = modelship_build_push(registry, EXAMPLES / project / "modelship.yaml",
                                      f"{registry.host}/it/{project}-real",
                                      "--gate-report", str(report), timeout=1200)
    if result.returncode != 0:
        pytest.fail(f"modelship build --push of examples/{project} failed "
                    f"({result.returncode}):\n{result.stderr[-3000:]}")
    image = json.loads(result.stdout.strip().splitlines()[-1])["image"]
    _images[key] = image
    return str(image)


def wget_image(registry: Any, docker_client: Any) -> str:
    """An image with GNU wget for the chart's `helm test` pod (its documented busybox cannot
    be pulled here, and Debian's busybox wget lacks --timeout), pushed to the test registry;
    `repo:tag`. Built FROM the test bed's Debian base with apt over host networking."""
    key = f"wget@{registry.host}"
    if key in _images:
        return _images[key]
    repo = f"{registry.host}/it/wget"
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "Dockerfile").write_text(
            f"FROM {base_images.IMAGE}\n"
            "RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends wget"
            " && rm -rf /var/lib/apt/lists/*\n"
            "USER 65534:65534\n")
        docker_client.images.build(path=tmp, tag=f"{repo}:1", rm=True, network_mode="host")
    auth = {"username": registry.user, "password": registry.password}
    for line in docker_client.images.push(repo, tag="1", auth_config=auth, stream=True,
                                          decode=True):
        if "error" in line:
            pytest.fail(f"pushing {repo}:1 failed: {line['error']}")
    _images[key] = f"{repo}:1"
    return _images[key]


def create_pull_secret(kube: Any, namespace: str, registry: Any) -> str:
    """A kubernetes.io/dockerconfigjson Secret for the test registry; its name."""
    from kubernetes import client

    token = base64.b64encode(f"{registry.user}:{registry.password}".encode()).decode()
    config = {"auths": {registry.host: {"username": registry.user,
                                        "password": registry.password, "auth": token}}}
    secret: Any = {
        "metadata": {"name": PULL_SECRET},
        "type": "kubernetes.io/dockerconfigjson",
        "data": {".dockerconfigjson": base64.b64encode(json.dumps(config).encode()).decode()},
    }
    client.CoreV1Api(kube).create_namespaced_secret(namespace, secret)
    return PULL_SECRET


def ready_pods(kube: Any, namespace: str, selector: str) -> list[Any]:
    from kubernetes import client

    items: list[Any] = client.CoreV1Api(kube).list_namespaced_pod(
        namespace, label_selector=selector).items
    return [p for p in items if not p.metadata.deletion_timestamp and any(
        c.type == "Ready" and c.status == "True" for c in p.status.conditions or [])]


def served(pod_ip: str) -> int:
    """Predictions a pod has answered (200s of its http_requests_total), from its /metrics."""
    with _session() as session:
        text = session.get(f"http://{pod_ip}:{SERVE_PORT}/metrics", timeout=5).text
    for line in text.splitlines():
        if line.startswith("http_requests_total{") and 'status="200"' in line:
            return int(float(line.rsplit(" ", 1)[1]))
    return 0


def count_answers(pods: list[Any], send: Callable[[], None], requests_: int) -> dict[str, int]:
    """Send `requests_` requests with `send` and return how many each pod answered."""
    before = {p.metadata.name: served(p.status.pod_ip) for p in pods}
    for _ in range(requests_):
        send()
    return {p.metadata.name: served(p.status.pod_ip) - before[p.metadata.name] for p in pods}


def until_each_answers(pods: list[Any], send: Callable[[], None], limit: int = 300) -> None:
    """Send requests until every pod has answered one: the API shows endpoints ready a moment
    before kube-proxy (or the gateway) routes to all of them. Fails after `limit` requests."""
    before = {p.metadata.name: served(p.status.pod_ip) for p in pods}
    for _ in range(limit):
        send()
        if all(served(p.status.pod_ip) > before[p.metadata.name] for p in pods):
            return
    pytest.fail(f"not every pod answered within {limit} requests")


def predict(url: str, headers: dict[str, str] | None = None) -> None:
    """One prediction on a fresh connection (kube-proxy and Traefik balance connections)."""
    with _session() as session:
        answer = session.post(f"{url}/predict", json={"text": "a wonderful film"},
                              headers={"Connection": "close", **(headers or {})}, timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.json()["label"] in ("positive", "negative")


def answering(url: str, headers: dict[str, str] | None = None, timeout: float = 60) -> None:
    """Wait until a prediction through `url` succeeds: kube-proxy (or the gateway) programs
    new endpoints a moment after the API shows them ready."""
    from tests.support.kube import wait_for

    def answers() -> bool:
        try:
            predict(url, headers)
        except (AssertionError, requests.RequestException):
            return False
        return True

    wait_for(answers, f"{url} answering", timeout=timeout, interval=0.3)


def service_url(kube: Any, namespace: str, service: str) -> str:
    """http://<ClusterIP>:<port> of a Service (the host reaches it through kube-proxy)."""
    from kubernetes import client

    svc = client.CoreV1Api(kube).read_namespaced_service(service, namespace)
    return f"http://{svc.spec.cluster_ip}:{svc.spec.ports[0].port}"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


SELECTOR = "app.kubernetes.io/component=model-server"
REQUESTS = 200


@dataclass
class Traffic:
    """Who answers through a release's Services: per-pod request counters, by version."""

    kube: Any
    namespace: str

    def url(self, service: str) -> str:
        url = service_url(self.kube, self.namespace, service)
        answering(url)
        return url

    def versions(self, service: str, n: int = REQUESTS) -> Counter[str]:
        """Answers through `service`, counted per version of the pod that answered."""
        url = self.url(service)
        pods = ready_pods(self.kube, self.namespace, SELECTOR)
        answered = count_answers(pods, lambda: predict(url), n)
        version = {p.metadata.name: p.metadata.labels["modelship.io/model-version"]
                   for p in pods}
        counts: Counter[str] = Counter()
        for pod, count in answered.items():
            if count:  # a pod that answered nothing is not a version that answered
                counts[version[pod]] += count
        assert sum(counts.values()) == n
        return counts

    def only(self, service: str, version: str, timeout: float = 30) -> None:
        """Wait until every answer through `service` comes from `version` (kube-proxy applies
        a Service change a moment after the API shows it)."""
        from tests.support.kube import wait_for

        seen: list[object] = []

        def settled() -> bool:
            try:
                counts = self.versions(service, 30)
            except (requests.RequestException, AssertionError) as e:  # pods coming and going
                seen.append(e)
                return False
            seen.append(dict(counts))
            return set(counts) == {version}

        try:
            wait_for(settled, f"{service} answered only by {version}", timeout, 0.5)
        except BaseException:
            print(f"last answers through {service}: {seen[-3:]}")
            raise
