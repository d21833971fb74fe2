"""Thresholds against the metric's range: outside it is a usage error (exit 2) naming the key and
the range; inside it but unable to fail or pass is a warning, and the gate still runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelship.cli import main
from modelship.gate import metrics


@pytest.fixture(autouse=True)
def _no_github(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GITHUB_ACTIONS", "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "RUNNER_TEMP"):
        monkeypatch.delenv(name, raising=False)


def _project(tmp_path: Path, thresholds: str) -> Path:
    rows = [{"prediction": p, "reference": r, "latency_ms": 10 + i}
            for i, (p, r) in enumerate([("a", "a"), ("b", "b"), ("a", "b"), ("b", "b")])]
    (tmp_path / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    config = tmp_path / "modelship.yaml"
    config.write_text("gate:\n  results: results.jsonl\n  task: classification\n"
                      f"  thresholds:\n{thresholds}")
    return config


@pytest.mark.parametrize(("line", "key", "expected"), [
    pytest.param("    accuracy: \">= 1.5\"\n", "accuracy", "between 0 and 1", id="accuracy"),
    pytest.param("    f1_macro: \">= 90\"\n", "f1_macro", "for 90% write 0.9", id="percent"),
    pytest.param("    latency_p95_ms: \"<= -5\"\n", "latency_p95_ms", "at least 0",
                 id="latency"),
    pytest.param("    accuracy: -0.1\n", "accuracy", "between 0 and 1", id="bare-number"),
])
def test_impossible_threshold_exits_2_naming_key_and_range(tmp_path, capsys, line: str,
                                                           key: str, expected: str):
    config = _project(tmp_path, line)
    assert main(["gate", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert f"{config}:5: gate.thresholds.{key}: " in err
    assert expected in err
    assert "Traceback" not in err


def test_impossible_flag_threshold_exits_2_naming_the_flag(tmp_path, capsys):
    config = _project(tmp_path, "    accuracy: \">= 0.5\"\n")
    assert main(["gate", "--config", str(config), "--threshold", "exact_match=>= 2"]) == 2
    err = capsys.readouterr().err
    assert "--threshold 'exact_match=>= 2'" in err
    assert "between 0 and 1" in err


@pytest.mark.parametrize(("line", "words"), [
    pytest.param("    accuracy: \">= 0\"\n", "can never fail", id="never-fails"),
    pytest.param("    accuracy: \"<= 1\"\n", "can never fail", id="upper-never-fails"),
    pytest.param("    latency_p95_ms: \">= 0\"\n", "can never fail", id="latency"),
])
def test_a_threshold_that_judges_nothing_is_a_warning(tmp_path, capsys, line: str, words: str):
    config = _project(tmp_path, line)
    assert main(["gate", "--config", str(config)]) == 0
    err = capsys.readouterr().err
    assert "warning:" in err
    assert words in err
    assert "gate.thresholds." in err


def test_a_threshold_that_can_never_pass_is_a_warning_and_rejects(tmp_path, capsys):
    config = _project(tmp_path, "    accuracy: \"> 1\"\n")
    assert main(["gate", "--config", str(config)]) == 1
    assert "can never pass" in capsys.readouterr().err


def test_an_ordinary_threshold_gives_no_warning(tmp_path, capsys):
    config = _project(tmp_path, "    accuracy: \">= 0.5\"\n    bleu: \">= 20\"\n")
    main(["gate", "--config", str(config)])
    assert "warning:" not in capsys.readouterr().err


def test_perfect_generation_scores_reach_the_top_of_their_range(tmp_path, capsys):
    """The ranges are the metrics' own: BLEU and chrF in 0-100, ROUGE and exact match 0-1."""
    rows = [{"prediction": t, "reference": t} for t in
            ("the cat sat on the mat today", "a quick brown fox jumps over it",
             "models ship to production")]
    (tmp_path / "r.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    report = tmp_path / "report.json"
    (tmp_path / "modelship.yaml").write_text("")
    assert main(["gate", "--results", str(tmp_path / "r.jsonl"), "--task", "generation",
                 "--config", str(tmp_path / "modelship.yaml"), "--report-json",
                 str(report)]) == 0
    from modelship.gate import ranges

    values = json.loads(report.read_text())["metrics"]
    for name in metrics.GENERATION:
        assert values[name] == pytest.approx(ranges.metric_range(name)[1]), name


@pytest.mark.parametrize("name", metrics.ALL)
def test_every_metric_has_a_range(name: str):
    from modelship.gate import ranges

    lo, hi = ranges.metric_range(name)
    assert lo == 0.0
    assert hi > lo
