"""Release settings: deploy merged with environments.NAME; every bad key or value exits 2
naming the key (and its line)."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelship import config
from modelship.errors import EXIT_USAGE, UsageError
from modelship.release import settings


def load(tmp_path: Path, text: str, environment: str | None = None,
         **overrides: object) -> settings.ReleaseSettings:
    path = tmp_path / "modelship.yaml"
    path.write_text(text)
    return settings.load(config.load(path), environment, **overrides)  # type: ignore[arg-type]


def refused(tmp_path: Path, text: str, environment: str | None = None) -> str:
    with pytest.raises(UsageError) as exc:
        load(tmp_path, text, environment)
    assert exc.value.exit_code == EXIT_USAGE
    return str(exc.value)


def test_defaults_from_model_name(tmp_path: Path) -> None:
    got = load(tmp_path, "model: {name: sentiment}\n")
    assert (got.release, got.namespace, got.strategy, got.replicas) == (
        "sentiment", "default", "canary", 2)
    assert got.canary.steps == (10, 25, 50, 100)
    assert got.timeout == 600
    assert got.canary.interval == 60
    assert got.blue_green.scale_down_delay == 600
    assert got.blue_green.auto_promote
    assert got.analysis is None
    assert got.environment is None


def test_environment_overrides_deploy_key_by_key(tmp_path: Path) -> None:
    text = """
model: {name: m}
deploy:
  namespace: models
  replicas: 3
  strategy: blue-green
  canary: {steps: [20, 100], interval: 5s}
  values: {resources: {requests: {cpu: 100m}}, gpu: {count: 1}}
  analysis: {alpha: 0.01}
environments:
  prod:
    namespace: prod
    kube_context: prod-ctx
    canary: {interval: 1s}
    values: {resources: {limits: {memory: 1Gi}}}
"""
    got = load(tmp_path, text, "prod")
    assert got.namespace == "prod"
    assert got.kube_context == "prod-ctx"
    assert got.replicas == 3
    assert got.strategy == "blue-green"
    assert got.canary == settings.CanarySettings((20, 100), 1.0)
    # the serve spec's chart values (probes, scrape target) come first; the user's on top
    assert got.values == {"resources": {"requests": {"cpu": "100m"},
                                        "limits": {"memory": "1Gi"}}, "gpu": {"count": 1},
                          "serve": {"port": 8080, "health": "/healthz", "predict": "/predict",
                                    "metrics": "/metrics"},
                          "probes": {"startup": {"periodSeconds": 10, "failureThreshold": 120}}}
    assert got.gpu_count == 1
    assert got.analysis == {"alpha": 0.01}
    assert got.analysis_key == "deploy.analysis"
    assert got.environment == "prod"


def test_cli_overrides_win(tmp_path: Path) -> None:
    got = load(tmp_path, "deploy: {strategy: canary, timeout: 5m}\n", strategy="rolling",
               timeout=7.0)
    assert (got.strategy, got.timeout) == ("rolling", 7.0)


def test_steps_end_at_100(tmp_path: Path) -> None:
    assert load(tmp_path, "deploy: {canary: {steps: [5, 50]}}\n").canary.steps == (5, 50, 100)


@pytest.mark.parametrize(
    ("text", "environment", "expected"),
    [
        pytest.param("deploy: {stratgy: canary}\n", None,
                     ["deploy.stratgy", "unknown key", "did you mean 'strategy'"], id="typo"),
        pytest.param("deploy: {strategy: blue_green}\n", None,
                     ["deploy.strategy", "expected one of canary, blue-green, rolling"],
                     id="strategy"),
        pytest.param("deploy: {replicas: 0}\n", None, ["deploy.replicas", ">= 1"],
                     id="replicas-zero"),
        pytest.param("deploy: {replicas: two}\n", None, ["deploy.replicas", "integer"],
                     id="replicas-text"),
        pytest.param("deploy: {timeout: soon}\n", None, ["deploy.timeout", "duration"],
                     id="timeout"),
        pytest.param("deploy: {timeout: 0s}\n", None, ["deploy.timeout", "above 0"],
                     id="timeout-zero"),
        pytest.param("deploy: {canary: {steps: [50, 25]}}\n", None,
                     ["deploy.canary.steps", "increasing"], id="steps-order"),
        pytest.param("deploy: {canary: {steps: [0, 100]}}\n", None,
                     ["deploy.canary.steps", "between 1 and 100"], id="steps-range"),
        pytest.param("deploy: {canary: {steps: []}}\n", None,
                     ["deploy.canary.steps", "at least one"], id="steps-empty"),
        pytest.param("deploy: {canary: {intervall: 1s}}\n", None,
                     ["deploy.canary.intervall", "did you mean 'interval'"], id="canary-typo"),
        pytest.param("deploy: {blue_green: {fallback: rolling}}\n", None,
                     ["deploy.blue_green.fallback", "canary, none"], id="fallback"),
        pytest.param("deploy: {blue_green: {auto_promote: maybe}}\n", None,
                     ["deploy.blue_green.auto_promote", "true or false"], id="auto-promote"),
        pytest.param("deploy: {namespace: Prod_1}\n", None,
                     ["deploy.namespace", "not a namespace name"], id="namespace"),
        pytest.param("deploy: {release: My_Model}\n", None,
                     ["deploy.release", "not a Helm release name"], id="release"),
        pytest.param("deploy: {values: [1]}\n", None, ["deploy.values", "mapping"],
                     id="values-list"),
        pytest.param("deploy: {values: {canary: {weight: 5}}}\n", None,
                     ["deploy.values.canary", "set by the release engine"], id="values-owned"),
        pytest.param("deploy: {analysis: yes}\n", None, ["deploy.analysis", "mapping"],
                     id="analysis-scalar"),
        pytest.param("deploy: {}\nenvironments: {prod: {replicass: 2}}\n", "prod",
                     ["environments.prod.replicass", "did you mean 'replicas'"],
                     id="env-typo"),
        pytest.param("environments: {prod: {replicas: -1}}\n", "prod",
                     ["environments.prod.replicas", ">= 1"], id="env-value"),
        pytest.param("environments: {prod: {}}\n", "staging",
                     ["--environment staging", "environments: prod"], id="env-unknown"),
        pytest.param("environments: {prod: {values: {strategy: x}}}\n", "prod",
                     ["environments.prod.values.strategy", "set by the release engine"],
                     id="env-values-owned"),
    ],
)
def test_bad_settings_exit_2_naming_the_key(tmp_path: Path, text: str,
                                            environment: str | None,
                                            expected: list[str]) -> None:
    message = refused(tmp_path, text, environment)
    for part in expected:
        assert part in message, message


def test_error_names_the_line(tmp_path: Path) -> None:
    message = refused(tmp_path, "model: {name: m}\ndeploy:\n  replicas: 0\n")
    assert "modelship.yaml:3: deploy.replicas" in message


def test_environment_analysis_overrides_single_keys(tmp_path: Path) -> None:
    """environments.NAME.analysis overrides deploy.analysis key by key: what it does not set
    (the Prometheus URL, min_requests) still comes from deploy.analysis."""
    from modelship.release.analysis import factory
    from modelship.release.analysis.canary import CanaryAnalysis

    text = """
model: {name: m}
deploy:
  analysis: {prometheus: {url: "http://prometheus.invalid:9090"}, min_requests: 50,
             alpha: 0.01}
environments:
  staging:
    analysis: {alpha: 0.1}
"""
    got = load(tmp_path, text, "staging")
    assert got.analysis_key == "environments.staging.analysis"
    analysis = factory.from_settings(got, config.load(tmp_path / "modelship.yaml"),
                                     environ={})
    assert isinstance(analysis, CanaryAnalysis)
    assert analysis.settings.alpha == 0.1
    assert analysis.settings.min_requests == 50
    assert analysis.settings.prometheus.url == "http://prometheus.invalid:9090"


@pytest.mark.parametrize("policy", ["hold", "abort"])
def test_runner_follows_on_inconclusive(tmp_path: Path, policy: str) -> None:
    """The runner holds an inconclusive step only under `hold`; `abort` aborts it."""
    from modelship.release.analysis import factory

    text = f"""
model: {{name: m}}
deploy:
  analysis: {{prometheus: {{url: "http://prometheus.invalid:9090"}}, on_inconclusive: {policy}}}
"""
    got = load(tmp_path, text)
    analysis = factory.from_settings(got, config.load(tmp_path / "modelship.yaml"), environ={})
    assert factory.on_inconclusive(analysis) == policy


SHADOWED = ("model: {name: m}\ndeploy:\n  canary: {shadow: 45s, steps: [50]}\n"
            "  values: {traffic: {mode: gateway-api}}\n")


def test_shadow_is_a_duration_on_a_canary_routed_by_the_gateway_api(tmp_path: Path) -> None:
    assert load(tmp_path, SHADOWED).canary.shadow == 45
    assert load(tmp_path, "model: {name: m}\n").canary.shadow == 0


@pytest.mark.parametrize(("text", "words"), [
    ("model: {name: m}\ndeploy:\n  canary: {shadow: 45s}\n",
     "deploy.canary.shadow: a shadow step mirrors requests with the Gateway API; this release "
     "has strategy canary and traffic.mode replicas"),
    (SHADOWED.replace("deploy:\n", "deploy:\n  strategy: blue-green\n"),
     "strategy blue-green and traffic.mode gateway-api"),
    ("model: {name: m}\ndeploy:\n  canary: {shadow: soon}\n", "deploy.canary.shadow"),
])
def test_shadow_elsewhere_is_exit_2_naming_the_key(tmp_path: Path, text: str,
                                                   words: str) -> None:
    assert words in refused(tmp_path, text)
