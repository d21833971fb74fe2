"""The serve contract's pure parts: request templates, response fields, URL joining, rows,
failure grouping (no server here; tests/integration/test_serving.py runs a real one)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from modelship import console, records, serving
from modelship.errors import UsageError

ROW = {"text": "good {day}", "id": 7, "tags": ["a", "b"], "reference": "positive"}


@pytest.mark.parametrize(("template", "body"), [
    pytest.param({"text": "{text}"}, {"text": "good {day}"}, id="whole-string-keeps-value"),
    pytest.param({"id": "{id}", "tags": "{tags}"}, {"id": 7, "tags": ["a", "b"]},
                 id="whole-string-keeps-type"),
    pytest.param({"prompt": "Classify: {text} ({id})"}, {"prompt": "Classify: good {day} (7)"},
                 id="formatted"),
    pytest.param({"inputs": [{"t": "{text}"}], "max_tokens": 5},
                 {"inputs": [{"t": "good {day}"}], "max_tokens": 5}, id="nested"),
    pytest.param("{text}", "good {day}", id="bare-string-template"),
])
def test_fill(template: Any, body: Any) -> None:
    assert serving.fill(template, ROW, "eval.jsonl:1") == body


def test_fill_names_a_missing_field() -> None:
    with pytest.raises(UsageError, match=r"eval.jsonl:3: line 3: .* needs field 'txt'"):
        serving.fill({"text": "say {txt}"}, ROW, "eval.jsonl:3: line 3")


def test_fill_names_a_bad_template() -> None:
    with pytest.raises(UsageError, match=r"gate\.online\.request: bad template"):
        serving.fill({"text": "say {"}, ROW)


def test_body_without_a_template_is_the_row_minus_reference(tmp_path: Path) -> None:
    row = serving.Row(1, ROW, tmp_path / "eval.jsonl")
    assert serving.request_body(serving.ServeSpec(), row) == {
        "text": "good {day}", "id": 7, "tags": ["a", "b"]}


@pytest.mark.parametrize(("answer", "path", "value"), [
    pytest.param({"label": "pos"}, "label", "pos", id="field"),
    pytest.param({"outputs": [{"label": 1}]}, "outputs.0.label", 1, id="dotted-with-index"),
    pytest.param({"outputs": [{"label": 1}, {"label": 2}]}, "outputs.-1.label", 2,
                 id="negative-index"),
    pytest.param("pos", "label", "pos", id="bare-value"),
    pytest.param({"label": "pos"}, "", {"label": "pos"}, id="empty-path-whole-answer"),
    pytest.param({"label": "pos"}, "labels", serving.MISSING, id="missing"),
    pytest.param({"outputs": []}, "outputs.0", serving.MISSING, id="index-out-of-range"),
])
def test_extract(answer: Any, path: str, value: Any) -> None:
    assert serving.extract(answer, path) == value


@pytest.mark.parametrize(("base", "predict", "url"), [
    pytest.param("http://host:8080", "/predict", "http://host:8080/predict", id="base"),
    pytest.param("http://host:8080/", "predict", "http://host:8080/predict", id="trailing-slash"),
    pytest.param("https://u:p@host/?q=1", "/v1/p", "https://u:p@host/v1/p?q=1", id="query-kept"),
    pytest.param("http://host:8080/v2/classify", "/predict", "http://host:8080/v2/classify",
                 id="path-used-as-given"),
])
def test_predict_url(base: str, predict: str, url: str) -> None:
    assert serving.predict_url(base, predict) == url


@pytest.mark.parametrize("base", ["host:8080", "ftp://host/", "http://", "http://host:port/"])
def test_predict_url_refuses_what_is_not_an_http_url(base: str) -> None:
    with pytest.raises(ValueError, match="URL"):
        serving.predict_url(base, "/predict")


@pytest.mark.parametrize(("value", "expected"), [("healthz", "/healthz"), ("/healthz", "/healthz"),
                                                 (" v1/predict ", "/v1/predict"),
                                                 ("/a?b=c", "/a?b=c")])
def test_serve_path(value: str, expected: str) -> None:
    assert serving.serve_path(value) == expected


@pytest.mark.parametrize("value", ["", "  ", "http://host/healthz", "/a b", "/it's", "/a\\b"])
def test_serve_path_refuses_what_is_not_a_path(value: str) -> None:
    with pytest.raises(ValueError, match=r"empty|URL|path"):
        serving.serve_path(value)


def test_rows_from_jsonl_and_csv(tmp_path: Path) -> None:
    jsonl = tmp_path / "eval.jsonl"
    jsonl.write_text('\ufeff{"text": "a", "reference": "x"}\n\n{"text": "b"}\n', encoding="utf-8")
    rows = serving.load_rows(jsonl)
    assert [(r.line, r.fields["text"], r.has_reference) for r in rows] == [
        (1, "a", True), (3, "b", False)]
    csv = tmp_path / "eval.csv"
    csv.write_text("text,reference\n\na,x\nb\n", encoding="utf-8")
    assert [(r.line, dict(r.fields)) for r in serving.load_rows(csv)] == [
        (3, {"text": "a", "reference": "x"}), (4, {"text": "b", "reference": None})]
    assert len(serving.load_rows(csv, limit=1)) == 1


@pytest.mark.parametrize(("text", "message"), [
    pytest.param('{"text": "a"}\n[1]\n', r"eval.jsonl:2: line 2: expected a JSON object",
                 id="not-an-object"),
    pytest.param('{"text": "a"\n', r"eval.jsonl:1: line 1 is not valid JSON", id="bad-json"),
])
def test_bad_rows_name_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "eval.jsonl"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(UsageError, match=message):
        serving.load_rows(path)


def test_missing_eval_set(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="eval set does not exist"):
        serving.load_rows(tmp_path / "nope.jsonl")


def test_failures_group_by_cause_commonest_first() -> None:
    failures = serving.Failures()
    url = "http://h/predict"
    failures.add(1, serving.Failure("timeout", url, detail="no answer within 5s", attempts=3))
    for line in (2, 3, 5):
        failures.add(line, serving.Failure("http", url, 404, body=f"no route {line}"))
    failures.add(4, serving.Failure("http", url, 500, body="boom", attempts=3))
    groups = failures.as_list()
    assert failures.total == 5
    assert [(g["cause"], g["count"]) for g in groups] == [
        ("HTTP 404 from http://h/predict", 3), ("timed out: http://h/predict", 1),
        ("HTTP 500 from http://h/predict", 1)]
    assert groups[0]["example"] == {"line": 2, "status": 404, "body": "no route 2", "detail": "",
                                    "attempts": 1}


@pytest.mark.parametrize(("url", "shown"), [
    pytest.param("http://user:s3cretpw@host:8080/x?q=1", "http://user:***@host:8080/x?q=1",
                 id="user-password"),
    pytest.param("https://t0ken-value@host/x", "https://***@host/x", id="token-as-user"),
    pytest.param("http://host:8080/predict", "http://host:8080/predict", id="no-userinfo"),
    pytest.param("http://u:p%40ss:w@host/", "http://u:***@host/", id="encoded"),
])
def test_url_shown_without_credentials(url: str, shown: str) -> None:
    assert serving.shown_url(url) == shown


def test_url_password_masked_as_written_and_as_sent() -> None:
    console.forget_secrets()
    try:
        serving.mask_url("http://u:p%40ss:w@host/")
        assert console.redact("p%40ss:w and p@ss:w") == "*** and ***"
    finally:
        console.forget_secrets()


def test_eval_set_csv_fields_over_128_kib_and_csv_errors(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "eval.csv"
    path.write_text("text,reference\n" + "x" * 200_000 + ",a\nshort,b\n", encoding="utf-8")
    assert [(r.line, len(r.fields["text"])) for r in serving.load_rows(path)] == [
        (2, 200_000), (3, 5)]
    monkeypatch.setattr(records, "CSV_FIELD_LIMIT", 16)
    with pytest.raises(UsageError, match=r"eval\.csv:2: line 2: not valid CSV: field larger"):
        serving.load_rows(path)
