"""Request templates and response fields of online evaluation (no server needed here; the
integration test runs a real one)."""

from __future__ import annotations

from typing import Any

import pytest

from modelship.errors import UsageError
from modelship.gate import online

ROW = {"text": "good {day}", "id": 7, "tags": ["a", "b"], "reference": "positive"}


@pytest.mark.parametrize(("template", "body"), [
    pytest.param({"text": "{text}"}, {"text": "good {day}"}, id="whole-string-keeps-value"),
    pytest.param({"id": "{id}", "tags": "{tags}"}, {"id": 7, "tags": ["a", "b"]},
                 id="whole-string-keeps-type"),
    pytest.param({"prompt": "Classify: {text} ({id})"}, {"prompt": "Classify: good {day} (7)"},
                 id="formatted"),
    pytest.param({"inputs": [{"t": "{text}"}], "max_tokens": 5},
                 {"inputs": [{"t": "good {day}"}], "max_tokens": 5}, id="nested"),
])
def test_fill(template: Any, body: Any) -> None:
    assert online.fill(template, ROW, "eval.jsonl:1") == body


def test_fill_names_a_missing_field() -> None:
    with pytest.raises(UsageError, match="needs field 'txt'"):
        online.fill({"text": "say {txt}"}, ROW, "eval.jsonl:3: line 3")


@pytest.mark.parametrize(("answer", "path", "value"), [
    pytest.param({"label": "pos"}, "label", "pos", id="field"),
    pytest.param({"outputs": [{"label": 1}]}, "outputs.0.label", 1, id="dotted-with-index"),
    pytest.param({"outputs": [{"label": 1}, {"label": 2}]}, "outputs.-1.label", 2,
                 id="negative-index"),
    pytest.param("pos", "label", "pos", id="bare-value"),
    pytest.param({"label": "pos"}, "labels", online.MISSING, id="missing"),
    pytest.param({"outputs": []}, "outputs.0", online.MISSING, id="index-out-of-range"),
])
def test_extract(answer: Any, path: str, value: Any) -> None:
    assert online.extract(answer, path) == value
