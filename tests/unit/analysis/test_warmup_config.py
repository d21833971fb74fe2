"""serve.warmup read from the config: off by default, the eval set's first rows (through the
serve protocol) as the requests, an error naming the key when there is nothing to send. The
pod-by-pod warm-up itself needs the test bed's cluster (not covered here)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelship import config
from modelship.errors import ConfigError
from modelship.release.analysis import warmup


def load(tmp_path: Path, text: str) -> config.Config:
    path = tmp_path / "modelship.yaml"
    path.write_text(text, encoding="utf-8")
    return config.load(path)


def test_no_warmup_by_default(tmp_path: Path) -> None:
    assert warmup.from_config(load(tmp_path, "serve: {}\n")) is None


def test_warmup_sends_the_first_eval_rows_as_the_protocol_builds_them(tmp_path: Path) -> None:
    (tmp_path / "eval.jsonl").write_text("".join(
        json.dumps({"features": [i, 1.5], "reference": "a"}) + "\n" for i in range(5)))
    got = warmup.from_config(load(tmp_path, "serve: {protocol: v2, model: m, warmup: 2}\n"
                                            "gate: {online: {eval_set: eval.jsonl}}\n"))
    assert got is not None
    assert got.spec.warmup == 2
    assert got.spec.retries == 0
    assert got.bodies == [{"inputs": [{"name": "features", "shape": [1, 2], "datatype": "FP64",
                                       "data": [float(i), 1.5]}]} for i in range(2)]


def test_warmup_without_anything_to_send_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as e:
        warmup.from_config(load(tmp_path, "serve: {warmup: 3}\n"))
    assert e.value.key == "serve.warmup"
    assert "gate.online.eval_set" in str(e.value.hint)
