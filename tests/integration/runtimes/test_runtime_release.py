"""Real serving runtimes released by canary on the test bed's real node, judged by the probes
through their serve.protocol preset: the chart's probes, the release probes and the warm-up all
read the one resolved serve spec (the serve section is the example's own, plus the startup
budget and the warm-up). Each example is built once by `modelship build --push`; 1.0.0 and
2.0.0 are that image relabelled, and `bad` answers wrongly without an HTTP error: MLServer's
and BentoML's iris model retrained on shuffled labels by the example's own train.py,
llama.cpp's tiny model with other weights (seed 2), so its generated text differs. A good 2.0.0
is promoted; `bad` is aborted with exit 1 and production keeps answering with 2.0.0."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.integration.release.conftest import Images, Project
from tests.support import runtimes
from tests.support.images import build_and_push
from tests.support.kube import create_namespace
from tests.support.real_node import PULL_SECRET, create_pull_secret, example_image, ready_pods

from modelship import config, serving

from .conftest import LLAMA_EXAMPLE, REPO

pytestmark = pytest.mark.integration

EXAMPLE = REPO / "examples/iris-mlserver"
BENTO = REPO / "examples/iris-bentoml"
# the runtimes' Python workers need more than the sentiment example's 256Mi
RESOURCES = {"requests": {"cpu": "10m", "memory": "64Mi"}, "limits": {"memory": "1Gi"}}
LABEL = 'LABEL org.opencontainers.image.version="{}"\n'
RETRAIN_ON_SHUFFLED_LABELS = (
    "USER root\nRUN mkdir -p /tmp/bad && python {train} --shuffle-labels --out /tmp/bad "
    "&& cp /tmp/bad/model.joblib /app/model.joblib && rm -rf /tmp/bad\nUSER 10001\n")


def _images(registry: Any, docker_client: Any, base: str, name: str, bad: str,
            files: dict[str, str | bytes] | None = None) -> Images:
    """`base` pushed again as 1.0.0 and 2.0.0, and as `bad` with the Dockerfile lines `bad`
    (`files` in their build context)."""
    repository = f"{registry.host}/it/{name}-{uuid.uuid4().hex[:6]}"
    auth = {"username": registry.user, "password": registry.password}
    docker_client.login(username=registry.user, password=registry.password,
                        registry=registry.host)
    variants: dict[str, dict[str, str | bytes]] = {
        v: {"Dockerfile": f"FROM {base}\n{LABEL.format(v)}"} for v in ("1.0.0", "2.0.0")}
    variants["bad"] = {"Dockerfile": f"FROM {base}\n{LABEL.format('bad')}{bad}", **(files or {})}
    digests = {v: build_and_push(docker_client, repository, v, context, auth)
               for v, context in variants.items()}
    return Images(repository, digests)


@pytest.fixture(scope="session")
def iris_images(traffic: dict[str, str], registry: Any, docker_client: Any) -> Images:
    return _images(registry, docker_client, example_image(registry, "iris-mlserver"),
                   "iris-release", RETRAIN_ON_SHUFFLED_LABELS.format(train="train.py"))


@pytest.fixture(scope="session")
def bento_images(traffic: dict[str, str], registry: Any, docker_client: Any) -> Images:
    """The BentoML image has no train.py (its model is MLServer's): the bad variant brings it."""
    bad = "COPY train.py /tmp/train.py\n" + RETRAIN_ON_SHUFFLED_LABELS.format(
        train="/tmp/train.py")
    return _images(registry, docker_client, example_image(registry, "iris-bentoml"),
                   "bento-release", bad, {"train.py": (EXAMPLE / "train.py").read_text()})


@pytest.fixture(scope="session")
def llama_images(traffic: dict[str, str], registry: Any, docker_client: Any,
                 llama_image: dict, llama_venv: Path,
                 tmp_path_factory: pytest.TempPathFactory) -> Images:
    other = tmp_path_factory.mktemp("llama-bad") / "model.gguf"
    runtimes.run([str(llama_venv / "bin/python"), "make_model.py", "--seed", "2", "--out",
                  str(other)], cwd=LLAMA_EXAMPLE)
    return _images(registry, docker_client, llama_image["image"], "llm-release",
                   "COPY model.gguf /app/model.gguf\n", {"model.gguf": other.read_bytes()})


@contextlib.contextmanager
def _release(tmp_path: Path, tools: Any, kube: Any, registry: Any, images: Images,
             release: str, serve: dict[str, Any], eval_set: Path,
             rows: int) -> Iterator[Project]:
    """A project releasing `images` as `release` in a namespace of its own, by canary
    [50, 100] judged by probes on `rows` rows of `eval_set`; uninstalled afterwards."""
    from kubernetes import client

    namespace = create_namespace(kube, release)
    create_pull_secret(kube, namespace, registry)
    env = {**tools.env, "PYTHONPATH": str(REPO / "src"),
           "MODELSHIP_REGISTRY_USER": registry.user,
           "MODELSHIP_REGISTRY_PASSWORD": registry.password, "MODELSHIP_LEASE_SECONDS": "6"}
    for name in ("GITHUB_ACTIONS", "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY"):
        env.pop(name, None)
    settings = {
        "model": {"name": release, "version": "1.0.0"},
        "image": {"repository": images.repository},
        "gate": {"online": {"eval_set": str(eval_set)}},
        "serve": {**serve, "startup_timeout": "5m", "warmup": 2},
        "deploy": {
            "release": release, "namespace": namespace, "strategy": "canary", "replicas": 2,
            "timeout": "240s", "canary": {"steps": [50, 100], "interval": "2s"},
            "analysis": {"probes": {"eval_set": str(eval_set), "rows": rows,
                                    "agreement": ">= 0.9", "tolerance": {"accuracy": 0.05}},
                         "max_wait": "30s"},
            "values": {"imagePullSecrets": [{"name": PULL_SECRET}], "resources": RESOURCES,
                       "monitoring": {"enabled": True},
                       "terminationGracePeriodSeconds": 5,
                       "probes": {"startup": {"periodSeconds": 1},
                                  "readiness": {"periodSeconds": 1}}},
        },
    }
    proj = Project(tmp_path, env, namespace, release, images, settings)
    proj.write()
    yield proj
    if not os.environ.get("MODELSHIP_TEST_KEEP_NAMESPACES"):
        tools.helm("uninstall", release, "--namespace", namespace, "--wait", check=False)
        client.CoreV1Api(kube).delete_namespace(namespace, grace_period_seconds=0)


def _example_serve(example: Path) -> dict[str, Any]:
    serve: dict[str, Any] = yaml.safe_load((example / "modelship.yaml").read_text())["serve"]
    return serve


@pytest.fixture
def iris_project(tmp_path: Path, tools: Any, kube: Any, registry: Any,
                 iris_images: Images) -> Iterator[Project]:
    with _release(tmp_path, tools, kube, registry, iris_images, "iris",
                  _example_serve(EXAMPLE), EXAMPLE / "eval/eval.jsonl", 30) as proj:
        yield proj


@pytest.fixture
def bento_project(tmp_path: Path, tools: Any, kube: Any, registry: Any,
                  bento_images: Images) -> Iterator[Project]:
    with _release(tmp_path, tools, kube, registry, bento_images, "bento",
                  _example_serve(BENTO), EXAMPLE / "eval/eval.jsonl", 30) as proj:
        yield proj


@pytest.fixture
def llama_release(tmp_path: Path, tools: Any, kube: Any, registry: Any,
                  llama_images: Images) -> Iterator[Project]:
    with _release(tmp_path, tools, kube, registry, llama_images, "llm",
                  _example_serve(LLAMA_EXAMPLE), LLAMA_EXAMPLE / "eval/eval.jsonl", 12) as proj:
        yield proj


def _promoted_then_bad_aborted(proj: Project, kube: Any) -> tuple[dict, dict]:
    """Deploy 2.0.0 over the running 1.0.0 (promoted, every judged step passed), then `bad`
    (aborted, exit 1, on agreement with every answer back); production answers with 2.0.0.
    The JSON results of both deploys."""
    good = proj.run("deploy", "--json", "--image", proj.images.ref("2.0.0"), timeout=600)
    assert good.json["outcome"] == "promoted", good.err[-3000:]
    judged = [s for s in good.json["steps"] if (s["evidence"] or {}).get("probes")]
    assert judged, good.json["steps"]
    for step in judged:
        assert step["verdict"] == "passed", step
        assert step["evidence"]["probes"]["canary"]["accuracy"] >= 0.9
    assert "with 2 requests (2 answered)" in good.err  # serve.warmup, pod by pod
    assert proj.status()["stable"]["version"] == "2.0.0"

    bad = proj.run("deploy", "--json", "--image", proj.images.ref("bad"), timeout=600,
                   check=1)
    assert bad.json["outcome"] == "aborted"
    failed = [s for s in bad.json["steps"] if s["verdict"] == "failed"]
    assert failed, bad.json["steps"]
    probes = failed[0]["evidence"]["probes"]
    assert probes["agreement"] < 0.9
    assert probes["canary"]["success"] == 1.0  # every answer came back: only they are wrong
    assert proj.status()["stable"]["version"] == "2.0.0"
    _production_answers_with(proj, kube, "2.0.0")
    return good.json, bad.json


def _production_answers_with(proj: Project, kube: Any, version: str) -> None:
    """Every ready pod of the release runs `version`'s image, and one answers the probes'
    rows as that version does (accuracy >= 0.9, the bad variant's is far below)."""
    pods = ready_pods(kube, proj.namespace, f"app.kubernetes.io/instance={proj.release}")
    assert pods
    images = {p.spec.containers[0].image for p in pods}
    assert all(i.endswith(proj.images.digests[version]) for i in images), images
    cfg = config.load(proj.root / "modelship.yaml")
    spec = serving.ServeSpec.from_config(cfg)
    probes = cfg.get_mapping("deploy.analysis.probes")
    rows = serving.load_rows(Path(probes["eval_set"]), limit=probes["rows"])
    run = serving.run(rows, f"http://{pods[0].status.pod_ip}:{spec.port}", spec)
    assert run.failures.total == 0
    right = sum(str(r.prediction) == str(r.row.reference) for r in run.results)
    assert right / len(rows) >= 0.9, [r.prediction for r in run.results]


def test_mlserver_canary_promoted_by_probes_then_wrong_answers_aborted(
        iris_project: Project, kube: Any) -> None:
    from kubernetes import client

    proj = iris_project
    proj.run("deploy", "--json", "--image", proj.images.ref("1.0.0"), timeout=600)
    pod = client.CoreV1Api(kube).list_namespaced_pod(
        proj.namespace, label_selector="app.kubernetes.io/instance=iris").items[0]
    container = pod.spec.containers[0]
    # the chart's probes come from the v2 preset, the startup budget from serve.startup_timeout
    assert container.readiness_probe.http_get.path == "/v2/health/ready"
    assert container.liveness_probe.http_get.path == "/v2/health/live"
    assert container.startup_probe.failure_threshold * container.startup_probe.period_seconds \
        == 300
    assert pod.metadata.annotations["prometheus.io/port"] == "8082"
    _promoted_then_bad_aborted(proj, kube)


def test_bentoml_canary_promoted_by_probes_then_wrong_answers_aborted(
        bento_project: Project, kube: Any) -> None:
    from kubernetes import client

    proj = bento_project
    proj.run("deploy", "--json", "--image", proj.images.ref("1.0.0"), timeout=600)
    pod = client.CoreV1Api(kube).list_namespaced_pod(
        proj.namespace, label_selector="app.kubernetes.io/instance=bento").items[0]
    container = pod.spec.containers[0]
    # the bentoml preset's health paths
    assert container.readiness_probe.http_get.path == "/readyz"
    assert container.liveness_probe.http_get.path == "/livez"
    _promoted_then_bad_aborted(proj, kube)


def test_llama_cpp_canary_promoted_by_probes_then_other_weights_aborted(
        llama_release: Project, kube: Any) -> None:
    """openai-chat: the probes compare generated text (the answer to each prompt, greedy),
    so another model's nonsense disagrees with the current version's."""
    from kubernetes import client

    proj = llama_release
    proj.run("deploy", "--json", "--image", proj.images.ref("1.0.0"), timeout=600)
    pod = client.CoreV1Api(kube).list_namespaced_pod(
        proj.namespace, label_selector="app.kubernetes.io/instance=llm").items[0]
    assert pod.spec.containers[0].readiness_probe.http_get.path == "/v1/models"
    _, bad = _promoted_then_bad_aborted(proj, kube)
    failed = next(s for s in bad["steps"] if s["verdict"] == "failed")
    assert failed["evidence"]["probes"]["canary"]["accuracy"] < 0.5  # not a near miss


def _iris_bodies() -> list[dict[str, Any]]:
    """V2 inference bodies of the eval set's rows (the live traffic of the pack test)."""
    import json

    rows = [json.loads(line) for line in (EXAMPLE / "eval/eval.jsonl").read_text().splitlines()
            if line.strip()]
    return [{"inputs": [{"name": "features", "shape": [1, len(r["features"])],
                         "datatype": "FP64", "data": r["features"]}]} for r in rows[:40]]


def test_mlserver_pack_judges_live_traffic_by_mlservers_own_metrics(
        iris_project: Project, iris_images: Images, registry: Any, docker_client: Any,
        kube: Any, traffic: dict[str, str]) -> None:
    """deploy.analysis.metrics: mlserver, no probes: the canary is judged on MLServer's own
    rest_server_* series (scraped from its metrics port 8082). A model that fails every
    request (trained on 3 features, asked with 4: MLServer answers 500) is aborted, exit 1;
    the good 2.0.0 is promoted."""
    from testbed import load
    from tests.support.real_node import service_url

    auth = {"username": registry.user, "password": registry.password}
    broken = build_and_push(docker_client, iris_images.repository, "broken", {"Dockerfile": (
        f"FROM {iris_images.pinned('1.0.0')}\nUSER root\n"
        "RUN python -c \"import joblib; from sklearn.datasets import load_iris; "
        "from sklearn.linear_model import LogisticRegression; X, y = load_iris(return_X_y=True);"
        " joblib.dump(LogisticRegression(max_iter=500).fit(X[:, :3], y), '/app/model.joblib')\"\n"
        'USER 10001\nLABEL org.opencontainers.image.version="broken"\n')}, auth)
    proj = iris_project
    proj.images = Images(iris_images.repository, {**iris_images.digests, "broken": broken})
    proj.write(analysis={"prometheus": traffic["MODELSHIP_TEST_PROMETHEUS"],
                         "metrics": "mlserver", "compare": {"error_rate": "stable"},
                         "min_requests": 20, "max_wait": "60s"},
               canary={"steps": [50, 100], "interval": "3s"})
    proj.run("deploy", "--json", "--image", proj.images.ref("1.0.0"), timeout=600)
    url = service_url(kube, proj.namespace, "iris") + "/v2/models/iris/infer"
    with load.Load(url, rps=20, seconds=300, bodies=_iris_bodies()).running() as sent:
        good = proj.run("deploy", "--json", "--image", proj.images.ref("2.0.0"), timeout=600)
        assert good.json["outcome"] == "promoted", good.err[-3000:]
        bad = proj.run("deploy", "--json", "--image", proj.images.ref("broken"), timeout=600,
                       check=1)
    print(f"\nmlserver pack: good {good.seconds:.1f}s, broken {bad.seconds:.1f}s; "
          f"load {sent.line()}")
    first = good.json["steps"][0]
    assert first["evidence"]["decided_by"] == "traffic", first
    assert first["evidence"]["tracks"]["canary"]["requests"] >= 20
    assert bad.json["outcome"] == "aborted"
    failed = bad.json["steps"][0]
    assert (failed["verdict"], failed["evidence"]["decided_by"]) == ("failed", "traffic")
    assert failed["evidence"]["tracks"]["canary"]["error_rate"] > 0.5
    assert failed["evidence"]["tracks"]["stable"]["errors"] == 0
    assert proj.status()["stable"]["version"] == "2.0.0"


def test_llama_cpp_canary_slower_to_first_token_aborted_on_ttft_ms(
        llama_release: Project, llama_images: Images, llama_venv: Path, registry: Any,
        docker_client: Any, tmp_path: Path) -> None:
    """compare: {ttft_ms: stable}, timed by the probes' streamed answers (one request at a
    time, the same rows to both versions): the identical 2.0.0 is promoted; `slow`, the same
    server with a bigger model (width 512, 8 layers: slower to its first token and after),
    is aborted with exit 1 on ttft_ms, named in the reason and the job summary."""
    model = tmp_path / "model.gguf"
    runtimes.run([str(llama_venv / "bin/python"), "make_model.py", "--width", "512",
                  "--layers", "8", "--out", str(model)], cwd=LLAMA_EXAMPLE)
    auth = {"username": registry.user, "password": registry.password}
    slow = build_and_push(docker_client, llama_images.repository, "slow", {
        "Dockerfile": f"FROM {llama_images.pinned('1.0.0')}\n{LABEL.format('slow')}"
                      "COPY model.gguf /app/model.gguf\n",
        "model.gguf": model.read_bytes()}, auth)
    rows = (LLAMA_EXAMPLE / "eval/eval.jsonl").read_text().strip().splitlines()
    eval_set = tmp_path / "eval.jsonl"
    eval_set.write_text("\n".join(rows * 3) + "\n")  # 36 timed pairs per probe round
    proj = llama_release
    proj.images = Images(llama_images.repository, {**llama_images.digests, "slow": slow})
    proj.write(analysis={"probes": {"eval_set": str(eval_set), "rows": 36},
                         "compare": {"ttft_ms": "stable"}, "max_wait": "60s"})
    proj.run("deploy", "--json", "--image", proj.images.ref("1.0.0"), timeout=600)
    same = proj.run("deploy", "--json", "--image", proj.images.ref("2.0.0"), timeout=600)
    assert same.json["outcome"] == "promoted", same.err[-3000:]
    summary = tmp_path / "summary.md"
    slower = proj.run("deploy", "--json", "--image", proj.images.ref("slow"), timeout=600,
                      check=1, env={"GITHUB_STEP_SUMMARY": str(summary)})
    print(f"\nttft: identical promoted in {same.seconds:.1f}s, slow aborted in "
          f"{slower.seconds:.1f}s")
    assert slower.json["outcome"] == "aborted"
    failed = next(s for s in slower.json["steps"] if s["verdict"] == "failed")
    assert "ttft_ms vs stable" in failed["evidence"]["reason"], failed["evidence"]["reason"]
    assert "ttft_ms vs stable" in summary.read_text()
    assert proj.status()["stable"]["version"] == "2.0.0"
