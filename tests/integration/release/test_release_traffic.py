"""The release engine with real traffic: pods of the example model run on the test bed's real
node, requests go through the release's Service (kube-proxy), and who answered is read from
each pod's own request counter (exact), mapped to its `modelship.io/model-version` label.

Versions 1.0.0, 2.0.0 and 3.0.0 are the example image with a version label each (distinct
digests, shared layers); `never-ready` is the same image whose server never answers health.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from tests.integration.release.conftest import REPO, Images, Project
from tests.support.images import build_and_push
from tests.support.kube import Tools, create_namespace, wait_for

pytestmark = pytest.mark.integration

REQUESTS = 200
SELECTOR = "app.kubernetes.io/component=model-server"


@pytest.fixture(scope="session")
def traffic(testbed_env: dict[str, str], cluster_env: dict[str, str]) -> dict[str, str]:
    """The real node is part of the test bed's own cluster (its variables say it runs)."""
    if not cluster_env.get("MODELSHIP_TEST_GATEWAY"):
        pytest.fail("the test bed runs no real node (no MODELSHIP_TEST_GATEWAY exported); "
                    "these tests need pods that run")
    return cluster_env


@pytest.fixture(scope="session")
def real_images(traffic: dict[str, str], registry: Any, docker_client: Any) -> Images:
    """The example model (built with `modelship build --push`) as 1.0.0, 2.0.0, 3.0.0 and a
    never-ready variant, each with its own digest, in the authenticated registry."""
    from tests.support.real_node import example_image

    base = example_image(registry)
    repository = f"{registry.host}/it/sentiment-release"
    auth = {"username": registry.user, "password": registry.password}
    docker_client.login(username=registry.user, password=registry.password,
                        registry=registry.host)
    digests: dict[str, str] = {}
    variants = {v: f'LABEL org.opencontainers.image.version="{v}"\n'
                for v in ("1.0.0", "2.0.0", "3.0.0")}
    variants["never-ready"] = ('LABEL org.opencontainers.image.version="never-ready"\n'
                               'CMD ["python", "-c", "import time; time.sleep(10**6)"]\n')
    for version, extra in variants.items():
        digests[version] = build_and_push(docker_client, repository, version,
                                          {"Dockerfile": f"FROM {base}\n{extra}"}, auth)
    return Images(repository, digests)


@pytest.fixture
def real_project(tmp_path: Path, tools: Tools, kube: Any, registry: Any,
                 real_images: Images) -> Iterator[Project]:
    from kubernetes import client
    from tests.support.real_node import PULL_SECRET, SMALL, create_pull_secret

    namespace = create_namespace(kube, "relreal")
    create_pull_secret(kube, namespace, registry)
    release = "sentiment"
    env = {**tools.env, "PYTHONPATH": str(REPO / "src"),
           "MODELSHIP_REGISTRY_USER": registry.user,
           "MODELSHIP_REGISTRY_PASSWORD": registry.password, "MODELSHIP_LEASE_SECONDS": "6"}
    for name in ("GITHUB_ACTIONS", "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY"):
        env.pop(name, None)
    config = {
        "model": {"name": "sentiment", "version": "1.0.0"},
        "image": {"repository": real_images.repository},
        "deploy": {
            "release": release, "namespace": namespace, "strategy": "canary",
            "replicas": 4, "timeout": "120s",
            "canary": {"steps": [10, 25, 50, 100], "interval": "1s"},
            "blue_green": {"scale_down_delay": "20s", "preview_interval": "1s"},
            "values": {"imagePullSecrets": [{"name": PULL_SECRET}], "resources": SMALL,
                       "terminationGracePeriodSeconds": 5,
                       "probes": {"startup": {"periodSeconds": 1},
                                  "readiness": {"periodSeconds": 1}}},
        },
    }
    proj = Project(tmp_path, env, namespace, release, real_images, config)
    proj.write()
    yield proj
    tools.helm("uninstall", release, "--namespace", namespace, "--wait", check=False)
    client.CoreV1Api(kube).delete_namespace(namespace, grace_period_seconds=0)


@dataclass
class Traffic:
    kube: Any
    namespace: str

    def url(self, service: str) -> str:
        from kubernetes import client
        from tests.support.real_node import answering

        svc = client.CoreV1Api(self.kube).read_namespaced_service(service, self.namespace)
        url = f"http://{svc.spec.cluster_ip}:{svc.spec.ports[0].port}"
        answering(url)
        return url

    def versions(self, service: str, n: int = REQUESTS) -> Counter[str]:
        """Answers through `service`, counted per version of the pod that answered."""
        from tests.support.real_node import count_answers, predict, ready_pods

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


def share_bounds(p: float, n: int, sigmas: float = 3.5) -> tuple[int, int]:
    spread = sigmas * math.sqrt(n * p * (1 - p))
    return math.floor(n * p - spread), math.ceil(n * p + spread)


@pytest.fixture
def traffic_of(kube: Any) -> Callable[[Project], Traffic]:
    return lambda proj: Traffic(kube, proj.namespace)


def test_canary_split_matches_the_chart_at_each_step(real_project: Project,
                                                     traffic_of: Any) -> None:
    proj, see = real_project, traffic_of(real_project)
    proj.deploy("1.0.0")
    assert set(see.versions("sentiment")) == {"1.0.0"}
    for weight, canary_pods in ((10, 1), (25, 1), (50, 2), (100, 4)):
        paused = proj.deploy("2.0.0", "--pause-at", str(weight)).json
        assert paused["outcome"] == "paused"
        share = canary_pods / 4  # what the chart's replicas split promises
        counts = see.versions("sentiment")
        if share == 1:
            assert set(counts) == {"2.0.0"}, counts
        else:
            low, high = share_bounds(share, REQUESTS)
            assert low <= counts["2.0.0"] <= high, (weight, counts)
    done = proj.run("promote", "--json").json
    assert done["outcome"] == "promoted"
    see.only("sentiment", "2.0.0")
    from tests.support.real_node import ready_pods

    versions = {p.metadata.labels["modelship.io/model-version"]
                for p in ready_pods(see.kube, proj.namespace, SELECTOR)}
    assert versions == {"2.0.0"}  # the old pods are gone


def test_pause_at_25_then_abort_then_promote(real_project: Project, traffic_of: Any) -> None:
    proj, see = real_project, traffic_of(real_project)
    proj.deploy("1.0.0")
    proj.deploy("2.0.0", "--pause-at", "25")
    assert see.versions("sentiment")["2.0.0"] > 0
    assert proj.run("abort", "--json").json["outcome"] == "aborted"
    see.only("sentiment", "1.0.0")
    assert set(see.versions("sentiment")) == {"1.0.0"}
    proj.deploy("2.0.0", "--pause-at", "25")
    assert proj.run("promote", "--json").json["outcome"] == "promoted"
    see.only("sentiment", "2.0.0")


def test_blue_green_preview_switch_rollback_scale_down(real_project: Project,
                                                       traffic_of: Any, deployments: Any) -> None:
    proj, see = real_project, traffic_of(real_project)
    proj.write(strategy="blue-green")
    proj.deploy("1.0.0")
    proj.deploy("2.0.0", "--pause-at", "0")
    # before the switch: the preview Service answers the new version, the main one the old
    see.only("sentiment-preview", "2.0.0")  # (a reused ClusterIP may route stale a moment)
    assert set(see.versions("sentiment-preview")) == {"2.0.0"}
    assert set(see.versions("sentiment")) == {"1.0.0"}
    promote = proj.start("promote", "--json")  # switches, then keeps 1.0.0 warm for 20s
    see.only("sentiment", "2.0.0")
    assert set(see.versions("sentiment")) == {"2.0.0"}
    begun = time.monotonic()
    rolled = proj.run("rollback", "--to", "1.0.0", "--json", check=None)
    see.only("sentiment", "1.0.0", timeout=10)
    switched_in = time.monotonic() - begun
    assert rolled.code == 0, rolled.err
    assert rolled.json["method"] == "colour-switch"
    assert switched_in < 30
    _, err = promote.communicate(timeout=120)
    assert promote.returncode == 0, err
    # the rollback kept 2.0.0 warm for its delay, then scaled it to 0
    assert deployments(proj)["green"][0] == 0
    assert set(see.versions("sentiment")) == {"1.0.0"}


def test_rolling_never_ready_exits_1_and_production_answers(real_project: Project,
                                                            traffic_of: Any) -> None:
    proj, see = real_project, traffic_of(real_project)
    proj.write(strategy="rolling", timeout="25s")
    proj.deploy("1.0.0")
    url = see.url("sentiment")
    failures: list[str] = []
    answered = [0]
    stop = threading.Event()

    def loop() -> None:
        with requests.Session() as session:
            session.trust_env = False
            while not stop.is_set():
                try:
                    r = session.post(f"{url}/predict", json={"text": "fine"}, timeout=5,
                                     headers={"Connection": "close"})
                    if r.status_code != 200:
                        failures.append(f"HTTP {r.status_code}")
                    answered[0] += 1
                except requests.RequestException as e:
                    failures.append(str(e))
                time.sleep(0.02)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        failed = proj.deploy("never-ready", check=1)
    finally:
        stop.set()
        thread.join(timeout=10)
    assert failed.seconds < 25 + 60
    assert "NotReady" in failed.err
    assert failures == [], failures[:5]
    assert answered[0] > 50
    assert proj.status()["stable"]["version"] == "1.0.0"
    assert set(see.versions("sentiment")) == {"1.0.0"}


def test_rollback_to_v1_after_v1_v2_v3(real_project: Project, traffic_of: Any) -> None:
    proj, see = real_project, traffic_of(real_project)
    proj.write(strategy="rolling")
    for version in ("1.0.0", "2.0.0", "3.0.0"):
        proj.deploy(version)
    see.only("sentiment", "3.0.0")
    assert proj.run("rollback", "--to", "v1.0.0", "--json").json["outcome"] == "rolled-back"
    see.only("sentiment", "1.0.0")
    assert set(see.versions("sentiment")) == {"1.0.0"}
    unknown = proj.run("rollback", "--to", "v7.0.0", check=2)
    assert "1.0.0, 2.0.0, 3.0.0" in unknown.err
