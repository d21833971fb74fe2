"""Benchmark: time from `rollback` to 100% of production on the old version.

Contender: `modelship rollback --to 1.0.0` of a blue-green release whose old colour is still
warm (a selector switch). Baseline, measured in the same run on the same cluster: `helm
rollback --wait` of a rolling release (Helm re-applies the old manifest: a rolling update).
Both releases run the same images, replicas and chart.

"Answered by the old version" is measured through the release's main Service:
- `--probe requests` (a node that runs the pods): a request loop to the Service's ClusterIP,
  counting the versions the answers come from (the pods' `modelship.io/model-version`,
  looked up by the answering pod's IP from the response's peer, or a version field);
- `--probe endpoints` (default; KWOK nodes run nothing): the Service's ready EndpointSlice
  addresses, each mapped to its pod's version label: what the Service would send requests to.
Done = the first moment every answer (or endpoint) is the old version, 5 times in a row.

Goal: blue-green <= 0.2x helm rollback, and under 10 s. Needs the test bed:
eval "$(scripts/testbed env)"; python benchmarks/rollback_bench.py
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import requests
import yaml

REPO = Path(__file__).resolve().parent.parent
CHART = REPO / "helm-chart"
REPLICAS = 4


def _env() -> dict[str, str]:
    missing = [k for k in ("MODELSHIP_TEST_REGISTRY", "MODELSHIP_TEST_REGISTRY_USER",
                           "MODELSHIP_TEST_REGISTRY_PASSWORD", "KUBECONFIG")
               if not os.environ.get(k)]
    if missing:
        sys.exit(f"missing {', '.join(missing)}: run eval \"$(scripts/testbed env)\" first")
    env = dict(os.environ)
    env["MODELSHIP_REGISTRY_USER"] = os.environ["MODELSHIP_TEST_REGISTRY_USER"]
    env["MODELSHIP_REGISTRY_PASSWORD"] = os.environ["MODELSHIP_TEST_REGISTRY_PASSWORD"]
    env["PYTHONPATH"] = str(REPO / "src")
    for name in ("GITHUB_ACTIONS", "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY"):
        env.pop(name, None)
    return env


def push_images(repository: str, versions: tuple[str, ...]) -> None:
    """Tiny images (one file each) with distinct digests, for KWOK runs."""
    import docker

    client = docker.from_env()
    auth = {"username": os.environ["MODELSHIP_TEST_REGISTRY_USER"],
            "password": os.environ["MODELSHIP_TEST_REGISTRY_PASSWORD"]}
    for version in versions:
        context = io.BytesIO()
        with tarfile.open(fileobj=context, mode="w") as tar:
            for name, text in (("Dockerfile", "FROM scratch\nCOPY version /version\n"),
                               ("version", f"{version}\n")):
                info = tarfile.TarInfo(name)
                info.size = len(text)
                tar.addfile(info, io.BytesIO(text.encode()))
        context.seek(0)
        client.images.build(fileobj=context, custom_context=True, tag=f"{repository}:{version}")
        for line in client.api.push(repository, version, auth_config=auth, stream=True,
                                    decode=True):
            if "error" in line:
                sys.exit(f"push failed: {line['error']}")
    client.close()


def real_node_setup(api: Any, namespace: str, repository: str) -> dict[str, Any]:
    """The example model as 1.0.0 and 2.0.0 (a version label each, shared layers), a pull
    secret, and chart values for the real node."""
    import docker

    sys.path.insert(0, str(REPO))
    from tests.support.real_node import (  # the test bed's helpers, same as the tests
        PULL_SECRET,
        SMALL,
        create_pull_secret,
        example_image,
    )

    @dataclasses.dataclass
    class Registry:
        host: str
        user: str
        password: str

    registry = Registry(os.environ["MODELSHIP_TEST_REGISTRY"],
                        os.environ["MODELSHIP_TEST_REGISTRY_USER"],
                        os.environ["MODELSHIP_TEST_REGISTRY_PASSWORD"])
    base = example_image(registry)
    client = docker.from_env()
    client.login(username=registry.user, password=registry.password, registry=registry.host)
    auth = {"username": registry.user, "password": registry.password}
    for version in ("1.0.0", "2.0.0"):
        text = f'FROM {base}\nLABEL org.opencontainers.image.version="{version}"\n'.encode()
        context = io.BytesIO()
        with tarfile.open(fileobj=context, mode="w") as tar:
            info = tarfile.TarInfo("Dockerfile")
            info.size = len(text)
            tar.addfile(info, io.BytesIO(text))
        context.seek(0)
        client.images.build(fileobj=context, custom_context=True, tag=f"{repository}:{version}")
        for line in client.api.push(repository, version, auth_config=auth, stream=True,
                                    decode=True):
            if "error" in line:
                sys.exit(f"push failed: {line['error']}")
    client.close()
    create_pull_secret(api, namespace, registry)
    return {"imagePullSecrets": [{"name": PULL_SECRET}], "resources": SMALL,
            "terminationGracePeriodSeconds": 5}


def modelship(root: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "modelship", *args], cwd=root, env=env,
                          capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        sys.exit(f"modelship {' '.join(args)} exited {done.returncode}:\n{done.stderr[-3000:]}")
    return done


def write_config(root: Path, repository: str, namespace: str, release: str,
                 strategy: str, values: dict[str, Any]) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "modelship.yaml").write_text(yaml.safe_dump({
        "model": {"name": "sentiment", "version": "1.0.0"},
        "image": {"repository": repository},
        "deploy": {"release": release, "namespace": namespace, "strategy": strategy,
                   "replicas": REPLICAS, "timeout": "5m",
                   "blue_green": {"scale_down_delay": "10m", "preview_interval": "1s"},
                   "values": values}}))


class EndpointProbe:
    """Versions of the ready endpoints behind the main Service."""

    def __init__(self, api: Any, namespace: str) -> None:
        from kubernetes import client

        self.discovery = client.DiscoveryV1Api(api)
        self.core = client.CoreV1Api(api)
        self.namespace = namespace

    def versions(self, service: str) -> list[str]:
        slices = self.discovery.list_namespaced_endpoint_slice(
            self.namespace, label_selector=f"kubernetes.io/service-name={service}").items
        names = [ep.target_ref.name for s in slices for ep in (s.endpoints or [])
                 if ep.target_ref is not None and (ep.conditions is None or
                                                   ep.conditions.ready is not False)]
        out = []
        for name in names:
            pod = self.core.read_namespaced_pod(name, self.namespace)
            out.append((pod.metadata.labels or {}).get("modelship.io/model-version", "?"))
        return out


class RequestProbe:
    """Versions that answer a batch of requests through the Service's ClusterIP (kube-proxy),
    read from each pod's own request counter (its /metrics) before and after the batch."""

    def __init__(self, api: Any, namespace: str, batch: int = 20) -> None:
        from kubernetes import client

        self.core = client.CoreV1Api(api)
        self.namespace = namespace
        self.batch = batch
        self.session = requests.Session()
        self.session.trust_env = False

    def _pods(self, release: str) -> dict[str, tuple[str, str]]:
        pods = self.core.list_namespaced_pod(
            self.namespace, label_selector=f"app.kubernetes.io/instance={release}").items
        return {p.metadata.name: (p.status.pod_ip, p.metadata.labels.get(
            "modelship.io/model-version", "?")) for p in pods
            if p.status.pod_ip and p.metadata.deletion_timestamp is None
            and p.status.phase == "Running"}

    def _served(self, ip: str) -> int:
        try:
            text = self.session.get(f"http://{ip}:8080/metrics", timeout=2).text
        except requests.RequestException:
            return 0
        for line in text.splitlines():
            if line.startswith("http_requests_total{") and 'status="200"' in line:
                return int(float(line.rsplit(" ", 1)[1]))
        return 0

    def versions(self, service: str) -> list[str]:
        svc = self.core.read_namespaced_service(service, self.namespace)
        url = f"http://{svc.spec.cluster_ip}:{svc.spec.ports[0].port}/predict"
        pods = self._pods(service)
        before = {name: self._served(ip) for name, (ip, _) in pods.items()}
        failed = 0
        for _ in range(self.batch):
            try:
                answer = self.session.post(url, json={"text": "a fine film"}, timeout=5,
                                           headers={"Connection": "close"})
                failed += answer.status_code != 200
            except requests.RequestException:
                failed += 1
        out: list[str] = ["failed"] * failed
        for name, (ip, version) in pods.items():
            out += [version] * max(self._served(ip) - before[name], 0)
        return out


def time_until_only(probe: EndpointProbe | RequestProbe, service: str, version: str, started: float,
                    limit: float = 600) -> float:
    in_a_row = 0
    while time.monotonic() - started < limit:
        seen = probe.versions(service)
        in_a_row = in_a_row + 1 if seen and all(v == version for v in seen) else 0
        if in_a_row >= 5:
            return time.monotonic() - started
        time.sleep(0.05)
    sys.exit(f"{service} never answered only {version} within {limit:.0f}s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--probe", choices=("endpoints", "requests"), default="endpoints",
                        help="requests: real traffic on the test bed's real node")
    args = parser.parse_args()
    env = _env()
    from kubernetes import client, config

    api = config.new_client_from_config(config_file=os.environ["KUBECONFIG"])
    core = client.CoreV1Api(api)
    tag = uuid.uuid4().hex[:6]
    namespace = f"bench-rollback-{tag}"
    core.create_namespace({"metadata": {"name": namespace}})
    repository = f"{os.environ['MODELSHIP_TEST_REGISTRY']}/modelship-bench/sentiment"
    probe: EndpointProbe | RequestProbe
    if args.probe == "requests":
        values = real_node_setup(api, namespace, repository)
        probe = RequestProbe(api, namespace)
    else:
        push_images(repository, ("1.0.0", "2.0.0"))
        values = {"resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
                  "nodeSelector": {"type": "kwok"},
                  "tolerations": [{"key": "kwok.x-k8s.io/node", "operator": "Equal",
                                   "value": "fake", "effect": "NoSchedule"}]}
        probe = EndpointProbe(api, namespace)
    waiting: subprocess.Popen[str] | None = None
    try:
        with tempfile.TemporaryDirectory() as tmp:
            bg, roll = Path(tmp) / "bg", Path(tmp) / "roll"
            write_config(bg, repository, namespace, "bench-bg", "blue-green", values)
            write_config(roll, repository, namespace, "bench-roll", "rolling", values)
            for root in (bg, roll):
                modelship(root, env, "deploy", "--image", f"{repository}:1.0.0")
            modelship(roll, env, "deploy", "--image", f"{repository}:2.0.0")
            # the blue-green deploy keeps the old colour warm for its delay: leave it waiting
            waiting = subprocess.Popen(
                [sys.executable, "-m", "modelship", "deploy", "--image",
                 f"{repository}:2.0.0"], cwd=bg, env=env, stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE, text=True)
            assert waiting.stderr is not None
            for line in waiting.stderr:
                if "keeping the old colour warm" in line:
                    break
            assert set(probe.versions("bench-bg")) == {"2.0.0"}
            assert set(probe.versions("bench-roll")) == {"2.0.0"}

            started = time.monotonic()
            switch = subprocess.Popen([sys.executable, "-m", "modelship", "rollback", "--to",
                                       "1.0.0", "--json"], cwd=bg, env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True)
            bg_seconds = time_until_only(probe, "bench-bg", "1.0.0", started)
            switch.terminate()  # it would keep 2.0.0 warm for the delay; not measured
            switch.wait(timeout=30)

            started = time.monotonic()
            helm = subprocess.Popen(["helm", "rollback", "bench-roll", "1", "--wait",
                                     "--namespace", namespace, "--timeout", "600s"], env=env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            helm_seconds = time_until_only(probe, "bench-roll", "1.0.0", started)
            helm.wait(timeout=600)
    finally:
        if waiting is not None and waiting.poll() is None:
            waiting.terminate()
            waiting.wait(timeout=30)
        core.delete_namespace(namespace)
        api.close()
    ratio = bg_seconds / helm_seconds
    print(json.dumps({"probe": args.probe, "replicas": REPLICAS,
                      "blue_green_switch_seconds": round(bg_seconds, 2),
                      "helm_rollback_wait_seconds": round(helm_seconds, 2),
                      "ratio": round(ratio, 3), "goal": "<= 0.2 and < 10 s",
                      "met": ratio <= 0.2 and bg_seconds < 10}))


if __name__ == "__main__":
    main()
