"""`modelship gate` end to end through modelship.cli.main: verdicts, report, GitHub outputs,
summary, annotations, and every kind of bad input (exit 2, one line, no traceback)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from modelship import records
from modelship.cli import build_parser, main
from modelship.config import Config
from modelship.gate import command as gate_command

DATA = Path(__file__).resolve().parents[2] / "data" / "gate"


@pytest.fixture(autouse=True)
def _no_github(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GITHUB_ACTIONS", "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "RUNNER_TEMP"):
        monkeypatch.delenv(name, raising=False)


def _outputs(path: Path) -> dict[str, str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    out, i = {}, 0
    while i < len(lines):
        name, delimiter = lines[i].split("<<", 1)
        end = lines.index(delimiter, i + 1)
        out[name] = "\n".join(lines[i + 1:end])
        i = end + 1
    return out


def _gate(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict]:
    code = main(["gate", *argv, "--json"])
    out = capsys.readouterr().out
    json_lines = [line for line in out.splitlines() if line.startswith("{")]
    return code, json.loads(json_lines[-1])


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "modelship.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _rows(n: int, correct: int) -> list[dict]:
    return [{"prediction": "pos" if i < correct else "neg", "reference": "pos",
             "latency_ms": 10.0 + i} for i in range(n)]


def test_pass_verdict_with_config_thresholds(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                              github: dict[str, Path]) -> None:
    _jsonl(tmp_path / "eval" / "results.jsonl", _rows(100, 95)) if (tmp_path / "eval").mkdir() \
        is None else None
    cfg = _config(tmp_path, """
model: {name: sentiment}
gate:
  results: eval/results.jsonl
  task: classification
  thresholds:
    accuracy: ">= 0.90"
    latency_p95_ms: "<= 250"
""")
    report_path = tmp_path / "out" / "report.json"
    code, report = _gate(capsys, "--config", str(cfg), "--report-json", str(report_path))
    assert code == 0
    assert report["passed"] is True
    assert report["n"] == 100
    assert report["metrics"]["accuracy"] == 0.95
    assert [(c["name"], c["op"], c["threshold"], c["passed"], c["kind"]) for c in
            report["checks"]] == [("accuracy", ">=", 0.9, True, "threshold"),
                                  ("latency_p95_ms", "<=", 250.0, True, "threshold")]
    assert json.loads(report_path.read_text(encoding="utf-8")) == report
    low, high = report["intervals"]["accuracy"]["low"], report["intervals"]["accuracy"]["high"]
    assert low < 0.95 < high
    outputs = _outputs(github["output"])
    assert outputs["passed"] == "true"
    assert outputs["report"] == str(report_path)
    summary = github["summary"].read_text(encoding="utf-8")
    assert "| metric | value | 95% interval | threshold | baseline | delta | verdict |" in summary
    assert "| accuracy | 0.95 |" in summary
    assert "```mermaid\nxychart-beta" in summary


def test_fail_verdict_against_baseline(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                       github: dict[str, Path]) -> None:
    # the production model, judged first, becomes the baseline
    _jsonl(tmp_path / "prod.jsonl", _rows(200, 190))
    code, _ = _gate(capsys, "--results", str(tmp_path / "prod.jsonl"),
                    "--report-json", str(tmp_path / "baseline.json"))
    assert code == 0
    github["output"].unlink()
    github["summary"].unlink()
    _jsonl(tmp_path / "cand.jsonl", _rows(200, 170))
    cfg = _config(tmp_path, """
gate:
  results: cand.jsonl
  thresholds: {accuracy: ">= 0.8"}
  baseline:
    report: baseline.json
    tolerance: {accuracy: 0.01, latency_p95_ms: "10%"}
""")
    code = main(["gate", "--config", str(cfg), "--json"])
    captured = capsys.readouterr()
    [line] = captured.out.splitlines()  # --json: stdout is the one object, in Actions too
    report = json.loads(line)
    assert code == 1
    assert report["passed"] is False
    by_kind = {(c["kind"], c["name"]): c for c in report["checks"]}
    assert by_kind[("threshold", "accuracy")]["passed"] is True
    failed = by_kind[("baseline", "accuracy")]
    assert failed["passed"] is False
    assert failed["threshold"] == pytest.approx(0.94)
    assert failed["baseline"] == 0.95
    assert failed["delta"] == pytest.approx(-0.1)
    assert failed["within_noise"] is False
    assert by_kind[("baseline", "latency_p95_ms")]["passed"] is True
    annotations = [line for line in captured.err.splitlines() if line.startswith("::error")]
    assert len(annotations) == 1
    assert "accuracy = 0.85, expected >= 0.94" in annotations[0]
    assert _outputs(github["output"])["passed"] == "false"
    summary = github["summary"].read_text(encoding="utf-8")
    assert "❌ failed" in summary
    assert "| FAIL |" in summary
    assert "candidate vs baseline" in summary


def test_an_empty_tolerance_mapping_still_compares_with_the_baseline(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _jsonl(tmp_path / "prod.jsonl", _rows(200, 190))
    assert _gate(capsys, "--results", str(tmp_path / "prod.jsonl"),
                 "--report-json", str(tmp_path / "baseline.json"))[0] == 0
    _jsonl(tmp_path / "cand.jsonl", _rows(200, 170))
    cfg = _config(tmp_path, """
gate:
  results: cand.jsonl
  baseline:
    report: baseline.json
    tolerance: {}
""")
    code, report = _gate(capsys, "--config", str(cfg))
    assert code == 1  # as without a tolerance key: every shared metric, no tolerance
    by_name = {c["name"]: c for c in report["checks"]}
    assert set(by_name) >= {"accuracy", "f1_macro", "latency_p95_ms"}
    assert all(c["kind"] == "baseline" for c in report["checks"])
    assert by_name["accuracy"]["passed"] is False


def test_report_output_is_a_path_in_actions_without_report_json(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], github: dict[str, Path],
        monkeypatch: pytest.MonkeyPatch) -> None:
    runner_temp = tmp_path / "runner-temp"
    runner_temp.mkdir()
    monkeypatch.setenv("RUNNER_TEMP", str(runner_temp))
    monkeypatch.setenv("GITHUB_ACTION", "gate-candidate")
    code, report = _gate(capsys, "--results", str(DATA / "classification.csv"),
                         "--threshold", "accuracy='>= 0.5'")
    assert code == 0
    outputs = _outputs(github["output"])
    written = runner_temp / "modelship-gate-report-gate-candidate.json"
    assert outputs["report"] == str(written)
    assert json.loads(written.read_text(encoding="utf-8")) == report


def test_report_output_falls_back_to_the_temp_directory_in_actions(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], github: dict[str, Path],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.delenv("GITHUB_ACTION", raising=False)
    code, report = _gate(capsys, "--results", str(DATA / "classification.csv"))
    assert code == 0
    written = tmp_path / "modelship-gate-report.json"
    assert _outputs(github["output"])["report"] == str(written)
    assert json.loads(written.read_text(encoding="utf-8")) == report


def test_no_report_file_in_a_terminal_without_report_json(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    outcome = gate_command.run(
        build_parser().parse_args(["gate", "--results", str(DATA / "classification.csv")]),
        Config({}, file="modelship.yaml"))
    assert outcome.exit_code == 0
    assert "report" not in outcome.outputs
    assert list((tmp_path / "tmp").iterdir()) == []


def test_a_csv_field_over_128_kib_is_read(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    long = "word " * 60_000  # 300 KB: over the csv module's default field limit
    path = tmp_path / "long.csv"
    path.write_text(f'prediction,reference\n"{long}","{long}"\nb,a\n', encoding="utf-8")
    code, report = _gate(capsys, "--results", str(path), "--bootstrap", "0")
    assert code == 0, report
    assert report["n"] == 2
    assert report["metrics"]["accuracy"] == 0.5


def test_a_csv_the_csv_module_rejects_is_bad_input_naming_the_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(records, "CSV_FIELD_LIMIT", 16)
    path = tmp_path / "r.csv"
    path.write_text("prediction,reference\na,a\n" + "x" * 40 + ",a\n", encoding="utf-8")
    assert main(["gate", "--results", str(path), "--json"]) == 2
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["error"].startswith(f"{path}:3: line 3: not valid CSV: field larger than")


def test_no_config_and_threshold_flags(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, report = _gate(capsys, "--results", str(DATA / "en_generation.jsonl"),
                         "--threshold", "bleu='>= 5'", "--threshold", "rougeL=>= 0.99")
    assert code == 1  # task inferred from the metric names: generation
    assert report["task"] == "generation"
    assert [c["passed"] for c in report["checks"]] == [True, False]


def test_chinese_generation_through_the_config(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    cfg = _config(tmp_path, f"""
gate:
  results: {DATA / "zh_generation.jsonl"}
  task: generation
  tokenize: zh
  thresholds: {{rouge1: ">= 0.5", bleu: ">= 10"}}
""")
    code, report = _gate(capsys, "--config", str(cfg))
    assert code == 0
    assert report["tokenize"] == "zh"
    assert report["metrics"]["rouge1"] > 0.5  # 0 if Chinese characters were dropped
    assert report["intervals"]["bleu"]["low"] <= report["metrics"]["bleu"]


def test_precomputed_metrics_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, report = _gate(capsys, "--results", str(DATA / "metrics.json"),
                         "--threshold", "accuracy>=0.9", "--threshold", "latency_p95_ms<=200")
    assert code == 0
    assert report["n"] == 5000
    assert report["metrics"] == {"accuracy": 0.93, "f1_macro": 0.91, "latency_p95_ms": 180.0}
    assert report["intervals"] == {}


def test_text_output_without_json(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["gate", "--results", str(DATA / "classification.csv"),
                 "--threshold", "accuracy='>= 0.5'"])
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith("gate passed: classification on 8 rows")
    assert "accuracy" in out
    assert "verdict" in out


# -- bad input: exit 2, one line naming what is wrong ----------------------------------------------
BAD_ROWS = [
    pytest.param('{"prediction": "a", "reference": "a"}\n{"prediction": "b", "refer\n',
                 "line 2 is not valid JSON", id="truncated-line"),
    pytest.param('{"prediction": "a", "reference": "a"}\n{"prediction": "b"}\n',
                 "line 2: missing field 'reference'", id="missing-field"),
    pytest.param('{"prediction": "a", "reference": "a", "latency_ms": 3}\n'
                 '{"prediction": "b", "reference": "b", "latency_ms": NaN}\n',
                 "line 2: field 'latency_ms' is NaN", id="nan-latency"),
    pytest.param('{"prediction": "a", "reference": "a", "latency_ms": -4.5}\n',
                 "line 1: field 'latency_ms' is negative", id="negative-latency"),
    pytest.param('{"prediction": "a", "reference": "a", "latency_ms": 3}\n'
                 '{"prediction": "b", "reference": "b"}\n',
                 "line 2: missing field 'latency_ms'", id="latency-dropped"),
    pytest.param('{"prediction": null, "reference": "a"}\n',
                 "line 1: field 'prediction' is null", id="null-prediction"),
    pytest.param('[1, 2]\n', "line 1: expected a JSON object", id="not-an-object"),
    pytest.param("", "results file is empty", id="empty-file"),
    pytest.param("\n\n  \n", "results file is empty", id="blank-file"),
]


@pytest.mark.parametrize(("content", "message"), BAD_ROWS)
def test_bad_jsonl_rows(tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str,
                        message: str) -> None:
    path = tmp_path / "results.jsonl"
    path.write_text(content, encoding="utf-8")
    code = main(["gate", "--results", str(path), "--json"])
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 2
    assert message in out["error"]
    assert str(path) in out["error"]


@pytest.mark.parametrize(("content", "message"), [
    pytest.param("prediction,reference\na,a\nb\n", "line 3: missing field 'reference'",
                 id="short-row"),
    pytest.param("prediction,referense\na,a\n", "missing column 'reference'", id="bad-header"),
    pytest.param("prediction,reference,latency_ms\na,a,nan\n", "is NaN", id="nan"),
    pytest.param("prediction,reference,latency_ms\na,a,-1\n", "is negative", id="negative"),
    pytest.param("prediction,reference,latency_ms\na,a,fast\n", "not a number", id="text"),
    pytest.param("prediction,reference\n", "results file is empty", id="header-only"),
])
def test_bad_csv_rows(tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str,
                      message: str) -> None:
    path = tmp_path / "results.csv"
    path.write_text(content, encoding="utf-8")
    assert main(["gate", "--results", str(path), "--json"]) == 2
    assert message in json.loads(capsys.readouterr().out.strip().splitlines()[-1])["error"]


def test_the_large_file_fast_path_still_names_the_bad_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [json.dumps({"prediction": "a", "reference": "a", "latency_ms": 1.5})] * 5000
    rows[3210] = '{"prediction": "a", "reference": "a", "latency_ms": -1}'
    path = tmp_path / "big.jsonl"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    assert main(["gate", "--results", str(path), "--json"]) == 2
    assert "line 3211: field 'latency_ms' is negative" in capsys.readouterr().out


R = "gate:\n  results: r.jsonl\n"


@pytest.mark.parametrize(("config", "args", "message"), [
    pytest.param(R + "  task: clasification\n", [], "did you mean 'classification'",
                 id="unknown-task"),
    pytest.param("", ["--results", "r.jsonl", "--task", "regression"], "invalid choice",
                 id="unknown-task-flag"),
    pytest.param(R + "  thresholds:\n    acuracy: '>= 0.9'\n", [], "did you mean 'accuracy'",
                 id="unknown-metric"),
    pytest.param(R + "  thresholds:\n    bleu: '>= 20'\n  task: classification\n", [],
                 "bleu' is a generation metric", id="metric-of-another-task"),
    pytest.param(R + "  tokenize: zhh\n", [], "did you mean 'zh'", id="unknown-tokenizer"),
    pytest.param("gate:\n  resuls: r.jsonl\n", [], "did you mean 'results'", id="unknown-key"),
    pytest.param("", ["--results", "missing.jsonl"], "results file does not exist",
                 id="missing-file"),
    pytest.param("", ["--results", "."], "is a directory", id="directory"),
    pytest.param("", [], "no eval results", id="no-results"),
    pytest.param(R + "  baseline: {report: nope.json}\n", [], "baseline report does not exist",
                 id="missing-baseline"),
    pytest.param(R + "  baseline:\n    tolerance: {accuracy: 0.01}\n", [],
                 "no baseline report", id="tolerance-without-baseline"),
    pytest.param(R, ["--threshold", "accuracy"], "expected METRIC='OP VALUE'",
                 id="threshold-flag-without-op"),
    *[pytest.param(R + f"  online: {{eval_set: r.jsonl, timeout: {value}}}\n",
                   ["--endpoint", "http://127.0.0.1:9/"],
                   "gate.online.timeout: expected a duration", id=f"timeout-{value}")
      for value in ("0", "'0s'", "-1", "'-5s'")],
])
def test_bad_configuration(tmp_path: Path, capsys: pytest.CaptureFixture[str], config: str,
                           args: list[str], message: str,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    _jsonl(tmp_path / "r.jsonl", _rows(5, 5))
    cfg = _config(tmp_path, config)
    code = main(["gate", "--config", str(cfg), *args, "--json"])
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 2, out
    assert message in out["error"] + out.get("hint", "")


def test_latency_threshold_without_latency_is_bad_input(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _jsonl(tmp_path / "r.jsonl", [{"prediction": "a", "reference": "a"}])
    assert main(["gate", "--results", str(path), "--threshold", "latency_p95_ms<=1",
                 "--json"]) == 2
    assert "needs latency_ms" in capsys.readouterr().out


def test_unreadable_and_non_utf8_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    latin = tmp_path / "latin1.csv"
    latin.write_bytes("prediction,reference\nnégatif,négatif\n".encode("latin-1"))
    assert main(["gate", "--results", str(latin), "--json"]) == 2
    assert "not UTF-8" in capsys.readouterr().out
    mem = Path("/proc/self/mem")  # a file that fails to read, even for root
    if mem.exists():
        assert main(["gate", "--results", str(mem), "--json"]) == 2
        assert "cannot read results file" in capsys.readouterr().out
    if os.geteuid() != 0:  # root reads anything
        locked = _jsonl(tmp_path / "locked.jsonl", _rows(2, 2))
        locked.chmod(0)
        assert main(["gate", "--results", str(locked), "--json"]) == 2
        assert "cannot read" in capsys.readouterr().out


def test_subprocess_bad_input_prints_one_line_and_no_traceback(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text('{"prediction": "a", "reference": "a"}\n{"prediction": "a", "refer',
                    encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    done = subprocess.run([sys.executable, "-m", "modelship", "gate", "--results", str(path)],
                          capture_output=True, text=True, timeout=120, env=env, check=False)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr + done.stdout
    lines = [line for line in done.stderr.splitlines() if not line.startswith("... ")]
    assert len(lines) == 1
    assert lines[0].startswith("error: ")
    assert "r.jsonl:2: line 2 is not valid JSON" in lines[0]
