"""values.schema.json: it describes every value, and helm refuses bad values with a message that
names the key and the reason, before rendering anything."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from tests.unit.chart.chart_render import CHART, REPO

SCHEMA = json.loads((CHART / "values.schema.json").read_text())
VALUES = yaml.safe_load((CHART / "values.yaml").read_text())
IMAGE = "registry.example.com/models/sentiment:1.0.0"
CONTRACT = ("strategy", "stable.image", "stable.replicas", "canary.enabled", "canary.image",
            "canary.weight", "blueGreen.blue.image", "blueGreen.green.image", "blueGreen.active",
            "blueGreen.preview", "traffic.mode", "traffic.header", "gpu.count", "gpu.product",
            "monitoring.enabled")


def schema_at(path: str) -> dict[str, Any]:
    node = SCHEMA
    for part in path.split("."):
        assert "properties" in node, f"{path}: the schema does not describe {part}"
        assert part in node["properties"], f"{path}: not in values.schema.json"
        node = node["properties"][part]
    return node


def leaves(values: dict[str, Any], prefix: str = "") -> list[str]:
    out = []
    for key, value in values.items():
        path = f"{prefix}{key}"
        out.append(path)
        node = schema_at(path)
        # free-form maps (resources, affinity, ...) are described as a whole
        if isinstance(value, dict) and value and node.get("additionalProperties") is False:
            out += leaves(value, f"{path}.")
    return out


def test_schema_is_draft_07() -> None:
    assert SCHEMA["$schema"] == "http://json-schema.org/draft-07/schema#"


def test_schema_describes_every_value() -> None:
    for path in leaves(VALUES):
        node = schema_at(path)
        assert node.get("description"), f"{path} has no description in the schema"
        assert "type" in node or "anyOf" in node, f"{path} has no type in the schema"
    assert SCHEMA["additionalProperties"] is False


@pytest.mark.parametrize("path", CONTRACT)
def test_contract_keys_exist(path: str) -> None:
    schema_at(path)
    node: Any = VALUES
    for part in path.split("."):
        assert part in node, f"values.yaml lacks the contract key {path}"
        node = node[part]


def test_contract_enums() -> None:
    assert schema_at("strategy")["enum"] == ["rolling", "canary", "blue-green"]
    assert schema_at("blueGreen.active")["enum"] == ["blue", "green"]
    assert schema_at("traffic.mode")["enum"] == ["replicas", "gateway-api", "nginx"]
    weight = schema_at("canary.weight")
    assert (weight["type"], weight["minimum"], weight["maximum"]) == ("integer", 0, 100)


@pytest.mark.parametrize("image", [
    "repo:tag", "registry.example.com/team/model:1.2.3", "localhost:5000/m:latest",
    "repo@sha256:" + "a" * 64, "ghcr.io/o/m:v1@sha256:" + "0" * 64, "my-registry:443/a/b_c:x.y-z"])
def test_image_references_accepted(render: Callable[..., Any], image: str) -> None:
    render({"stable": {"image": image}})


REFUSED = [
    pytest.param({"canary": {"weight": 150}}, ["/canary/weight", "maximum: got 150, want 100"],
                 id="weight-150"),
    pytest.param({"canary": {"weight": -1}}, ["/canary/weight", "minimum: got -1, want 0"],
                 id="weight-negative"),
    pytest.param({"canary": {"weight": 12.5}}, ["/canary/weight", "integer"],
                 id="weight-fraction"),
    pytest.param({"strategy": "shadow"},
                 ["/strategy", "value must be one of 'rolling', 'canary', 'blue-green'"],
                 id="unknown-strategy"),
    pytest.param({"strategy": "blue-green", "canary": {"enabled": True, "image": IMAGE},
                  "blueGreen": {"blue": {"image": IMAGE}}},
                 ["/canary/enabled", "value must be false", "/strategy",
                  "value must be 'canary'"], id="canary-and-blue-green"),
    pytest.param({"canary": {"enabled": True, "image": IMAGE}},
                 ["/strategy", "value must be 'canary'"], id="canary-with-rolling"),
    pytest.param({"strategy": "canary", "canary": {"enabled": True}},
                 ["/canary/image", "minLength"], id="canary-without-image"),
    pytest.param({"traffic": {"mode": "istio"}},
                 ["/traffic/mode", "value must be one of 'replicas', 'gateway-api', 'nginx'"],
                 id="unknown-traffic-mode"),
    pytest.param({"blueGreen": {"active": "red"}},
                 ["/blueGreen/active", "value must be one of 'blue', 'green'"],
                 id="unknown-colour"),
    pytest.param({"stable": {"image": "sentiment"}},
                 ["/stable/image", "'sentiment' does not match pattern"], id="image-without-tag"),
    pytest.param({"stable": {"image": "repo@sha256:abc"}},
                 ["/stable/image", "does not match pattern"], id="short-digest"),
    pytest.param({"stable": {"image": ""}}, ["/stable/image", "minLength"],
                 id="no-stable-image"),
    pytest.param({"strategy": "blue-green", "blueGreen": {"active": "green",
                                                          "blue": {"image": IMAGE}}},
                 ["/blueGreen/green/image", "minLength"], id="active-colour-without-image"),
    pytest.param({"canary": {"wieght": 10}}, ["additional properties 'wieght' not allowed"],
                 id="typo"),
    pytest.param({"gpu": {"count": "one"}}, ["/gpu/count", "integer"], id="gpu-count-string"),
    pytest.param({"traffic": {"header": "bad header"}}, ["/traffic/header"], id="bad-header"),
    pytest.param({"gpu": {"count": 1, "product": "NVIDIA A100 80GB"}},
                 ["/gpu/product", "'NVIDIA A100 80GB' does not match pattern"],
                 id="gpu-product-with-spaces"),
    pytest.param({"gpu": {"count": 1, "product": "A" * 64}},
                 ["/gpu/product", "maxLength: got 64, want 63"], id="gpu-product-too-long"),
    pytest.param({"gpu": {"count": 1, "productLabel": "gpu product"}},
                 ["/gpu/productLabel", "'gpu product' does not match pattern"],
                 id="gpu-product-label-not-a-key"),
    pytest.param({"tmpVolume": {"sizeLimit": "1 GB"}},
                 ["/tmpVolume/sizeLimit", "'1 GB' does not match pattern"],
                 id="tmp-size-not-a-quantity"),
    pytest.param({"probes": {"liveness": {"path": "livez"}}},
                 ["/probes/liveness/path", "'livez' does not match pattern"],
                 id="liveness-path-without-slash"),
    pytest.param({"topologySpreadConstraints": [{"maxSkew": 1,
                                                 "whenUnsatisfiable": "ScheduleAnyway"}]},
                 ["/topologySpreadConstraints/0", "missing property 'topologyKey'"],
                 id="spread-without-topology-key"),
    pytest.param({"topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "zone",
                                                 "whenUnsatisfiable": "Sometimes"}]},
                 ["/topologySpreadConstraints/0/whenUnsatisfiable",
                  "value must be one of 'DoNotSchedule', 'ScheduleAnyway'"],
                 id="spread-unknown-when-unsatisfiable"),
]


@pytest.mark.parametrize(("values", "messages"), REFUSED)
def test_bad_values_are_refused_with_a_clear_message(
        refuse: Callable[..., str], values: dict[str, Any], messages: list[str]) -> None:
    error = refuse(values)
    assert "values don't meet the specifications of the schema" in error
    for message in messages:
        assert message in error, error


def test_template_checks_back_the_schema(helm_bin: str) -> None:
    """Without the schema (helm --skip-schema-validation) the templates still refuse."""
    result = subprocess.run(
        [helm_bin, "template", "x", str(CHART), "--skip-schema-validation",
         "--set", "strategy=blue-green", "--set", "canary.enabled=true",
         "--set", f"canary.image={IMAGE}", "--set", f"blueGreen.blue.image={IMAGE}"],
        capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode != 0
    assert "a canary track exists only with strategy canary" in result.stderr


@pytest.mark.parametrize("product", ["", "NVIDIA-H100-80GB-HBM3", "Tesla-T4", "A100_80GB.v2"])
def test_gpu_product_label_values_accepted(render: Callable[..., Any], product: str) -> None:
    render({"gpu": {"count": 1, "product": product}})


def test_template_refuses_gpu_product_that_is_no_label_value(helm_bin: str) -> None:
    """Without the schema the templates refuse it too, saying what a label value may hold."""
    result = subprocess.run(
        [helm_bin, "template", "x", str(CHART), "--skip-schema-validation",
         "--set", "gpu.count=1", "--set", "gpu.product=NVIDIA A100 80GB"],
        capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode != 0
    assert 'gpu.product "NVIDIA A100 80GB" is not a valid node label value' in result.stderr


@pytest.mark.parametrize("values", [
    {"strategy": "canary", "canary": {"enabled": True, "image": IMAGE},
     "blueGreen": {"blue": {"image": IMAGE}}},
    {"strategy": "canary", "canary": {"enabled": True, "image": IMAGE},
     "blueGreen": {"green": {"image": IMAGE}}},
    {"strategy": "rolling", "blueGreen": {"blue": {"image": IMAGE}, "green": {"image": IMAGE}}},
], ids=["canary-after-blue", "canary-after-green", "rolling-after-blue-green"])
def test_leftover_blue_green_images_do_not_block_a_strategy_change(
        render: Callable[..., Any], values: dict[str, Any]) -> None:
    """Leaving blue-green (e.g. `--reuse-values --set strategy=canary ...`) keeps the colours'
    images in the values; outside blue-green the templates ignore them, so does the schema."""
    docs = render(values)
    names = {d["metadata"]["name"] for d in docs if d["kind"] == "Deployment"}
    assert names == ({"sentiment-stable", "sentiment-canary"} if values["strategy"] == "canary"
                     else {"sentiment-stable"})


def test_autoscaling_bounds_are_checked(refuse: Callable[..., str]) -> None:
    error = refuse({"autoscaling": {"enabled": True, "minReplicas": 5, "maxReplicas": 3}})
    assert "autoscaling.minReplicas (5) is above autoscaling.maxReplicas (3)" in error


# -- README values table ----------------------------------------------------------------------


def chart_docs(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(REPO / "scripts" / "chart-docs"), *args],
                          capture_output=True, text=True, timeout=60, check=False)


def test_readme_values_table_is_generated() -> None:
    result = chart_docs("--check")
    assert result.returncode == 0, result.stdout + result.stderr
    readme = (CHART / "README.md").read_text()
    for path in CONTRACT:
        assert f"| `{path}` |" in readme


def test_chart_docs_notices_stale_and_undocumented_values(tmp_path: Any) -> None:
    chart = tmp_path / "chart"
    chart.mkdir()
    for name in ("values.yaml", "values.schema.json", "README.md"):
        (chart / name).write_text((CHART / name).read_text())
    values = (chart / "values.yaml").read_text()
    (chart / "values.yaml").write_text(values.replace(
        "# -- Share of traffic for the canary, 0-100.", "# -- Canary traffic percentage."))
    result = chart_docs("--check", "--chart", str(chart))
    assert result.returncode == 1
    assert "Canary traffic percentage." in result.stdout
    assert chart_docs("--chart", str(chart)).returncode == 0
    assert chart_docs("--check", "--chart", str(chart)).returncode == 0
    (chart / "values.yaml").write_text(re.sub(r"\n# -- Seconds a stopping pod.*\n", "\n",
                                              values))
    result = chart_docs("--check", "--chart", str(chart))
    assert result.returncode == 2
    assert "terminationGracePeriodSeconds" in result.stderr
