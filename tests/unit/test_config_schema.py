"""modelship.yaml's JSON Schema: a valid schema, published, met by every example and test
config, and knowing every key the code reads (no key drifts between the two). The mistakes it
refuses are in test_config_mistakes.py."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from modelship import config, schema
from modelship.gate import metrics
from modelship.image import accelerators
from modelship.release import settings as release_settings
from modelship.release.analysis import settings as analysis_settings

REPO = Path(__file__).resolve().parents[2]
SRC = REPO / "src" / "modelship"
CONFIGS = sorted([*REPO.glob("examples/*/modelship.yaml"),
                  *REPO.glob("tests/data/**/modelship*.yaml")])


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "modelship.yaml"
    path.write_text(text)
    return path


# -- the schema itself ---------------------------------------------------------------------
def test_the_schema_is_a_valid_draft_2020_12_schema():
    Draft202012Validator.check_schema(schema.schema())


def test_the_published_copy_is_the_packaged_schema():
    published = REPO / "schema" / "modelship.schema.json"
    assert published.read_bytes() == schema.SCHEMA_FILE.read_bytes()


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_example_and_test_config_validates(path: Path):
    config.load(path)


@pytest.mark.parametrize("path", sorted(REPO.glob("examples/*/modelship.yaml")),
                         ids=lambda p: p.parent.name)
def test_examples_point_editors_at_the_schema(path: Path):
    first = path.read_text().splitlines()[0]
    match = re.fullmatch(r"# yaml-language-server: \$schema=(\S+)", first)
    assert match, first
    assert (path.parent / match.group(1)).resolve() == schema.SCHEMA_FILE.resolve()


# -- no drift: every key the code reads is in the schema --------------------------------------
def _node(path: list[str]) -> dict[str, Any] | None:
    """The schema of a key path, or None when the schema does not allow it."""
    defs = schema.schema()["$defs"]

    def resolve(node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            node = defs[node["$ref"].rsplit("/", 1)[-1]]
        return node

    def step(node: dict[str, Any], name: str) -> dict[str, Any] | None:
        node = resolve(node)
        for branch in node.get("anyOf", []):
            found = step(branch, name)
            if found is not None:
                return found
        if name in node.get("properties", {}):
            return dict(node["properties"][name])
        if node.get("type", "object") != "object" or "enum" in node or "const" in node:
            return None  # a scalar has no keys
        extra = node.get("additionalProperties", {})  # absent: any key
        return None if extra is False else dict(extra)

    node: dict[str, Any] | None = schema.schema()
    for name in path:
        node = step(node, name) if node is not None else None
    return node


_SECTION = r"(?:model|gate|image|serve|deploy|environments|notify)"
_LITERAL = re.compile(rf"[\"']({_SECTION}(?:\.[A-Za-z_]+)+)[\"']")
_FILE = re.compile(r"\.(py|json|jsonl|ya?ml|txt)$")  # "serve.py" is a file, not a key
_RELEASE = re.compile(r"\bsrc\.key\(\"([a-z_.]+)\"\)")  # release/settings.py: deploy.<name>
_ANALYSIS = re.compile(r"\bread\.key\(\"([a-z_]+)\"\)")  # analysis: deploy.analysis.<name>


def _keys_in_code() -> set[str]:
    keys: set[str] = set()
    for source in SRC.rglob("*.py"):
        text = source.read_text()
        keys |= {k for k in _LITERAL.findall(text) if not _FILE.search(k)}
        keys |= {f"deploy.{k}" for k in _RELEASE.findall(text)}
        keys |= {f"deploy.analysis.{k}" for k in _ANALYSIS.findall(text)}
    return keys


def _tuples_in_code() -> set[str]:
    keys = {f"deploy.{k}" for k in release_settings.DEPLOY_KEYS}
    keys |= {f"environments.prod.{k}" for k in release_settings.ENVIRONMENT_KEYS}
    keys |= {f"deploy.canary.{k}" for k in release_settings.CANARY_KEYS}
    keys |= {f"deploy.blue_green.{k}" for k in release_settings.BLUE_GREEN_KEYS}
    keys |= {f"deploy.analysis.{k}" for k in analysis_settings.KEYS}
    keys |= {f"deploy.analysis.prometheus.{k}" for k in analysis_settings.PROMETHEUS_KEYS}
    keys |= {f"deploy.analysis.probes.{k}" for k in analysis_settings.PROBE_KEYS}
    keys |= {f"deploy.analysis.queries.{k}" for k in analysis_settings.QUERY_NAMES}
    keys |= {f"deploy.analysis.compare.{k}" for k in analysis_settings.COMPARE_KEYS}
    keys |= {f"gate.thresholds.{k}" for k in metrics.ALL}
    keys |= {f"gate.baseline.tolerance.{k}" for k in metrics.ALL}
    return keys


def test_the_code_reads_keys_that_the_scan_finds():
    found = _keys_in_code()
    assert {"gate.thresholds", "image.smoke.request", "serve.port", "deploy.canary.steps",
            "deploy.analysis.alpha", "gate.online.retries"} <= found


def test_every_key_the_code_reads_is_in_the_schema():
    missing = sorted(k for k in _keys_in_code() | _tuples_in_code()
                     if _node(k.split(".")) is None)
    assert missing == []


def test_the_turn_3_keys_of_design_md_are_in_the_schema():
    for key in ("serve.protocol", "serve.model", "serve.metrics_port", "serve.startup_timeout",
                "serve.warmup", "deploy.analysis.metrics", "deploy.canary.shadow",
                "deploy.verify.signature", "deploy.verify.key", "deploy.verify.identity.issuer",
                "deploy.verify.gate", "deploy.analysis.compare.ttft_ms",
                "deploy.analysis.compare.tokens_per_s"):
        assert _node(key.split(".")) is not None, key
    assert _node(["notify"])


def test_free_form_sections_accept_any_key():
    for key in ("deploy.values.resources.limits.cpu", "environments.prod.values.gpu.count",
                "gate.online.request.anything", "image.build_args.HTTP_PROXY",
                "serve.env.LOG_LEVEL"):
        assert _node(key.split(".")) is not None, key


@pytest.mark.parametrize(("key", "choices"), [
    pytest.param("deploy.strategy", release_settings.STRATEGIES, id="strategy"),
    pytest.param("deploy.blue_green.fallback", release_settings.FALLBACKS, id="fallback"),
    pytest.param("deploy.analysis.on_inconclusive", analysis_settings.POLICIES, id="policy"),
    pytest.param("gate.task", tuple(metrics.TASKS), id="task"),
    pytest.param("gate.tokenize", metrics.TOKENIZERS, id="tokenize"),
    pytest.param("image.accelerator", accelerators.KINDS, id="accelerator"),
])
def test_choices_match_the_code(key: str, choices: tuple[str, ...]):
    node = _node(key.split("."))
    assert node is not None
    assert sorted(node["enum"]) == sorted(choices)


def test_gate_metric_names_match_the_code():
    assert sorted(schema.schema()["$defs"]["gateMetrics"]["properties"]) == sorted(metrics.ALL)
    assert sorted(schema.schema()["$defs"]["gateMetricName"]["enum"]) == sorted(metrics.ALL)
    probes = _node(["deploy", "analysis", "probes", "tolerance"])
    assert probes is not None
    assert sorted(probes["propertyNames"]["enum"]) == sorted(analysis_settings.PROBE_METRICS)
