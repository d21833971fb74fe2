"""Every gate metric equals what the reference library computes, in the test, on the same rows."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import numpy as np
import pytest
import sacrebleu
from hypothesis import given, settings
from hypothesis import strategies as st
from nltk.stem import porter
from rouge_score import rouge_scorer
from sklearn import metrics as skm

from modelship.errors import UsageError
from modelship.gate import metrics as m
from modelship.gate import readers

DATA = Path(__file__).resolve().parents[2] / "data" / "gate"


def _evaluate(path: Path, task: str, **kwargs: object) -> m.Evaluation:
    source = readers.open_results(path, set(m.ALL))
    assert isinstance(source, readers.Rows)
    return m.evaluate(source.batches(), task, **kwargs)  # type: ignore[arg-type]


def _write_jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                    encoding="utf-8")
    return path


def _sklearn(refs: list[str], preds: list[str]) -> dict[str, float]:
    return {
        "accuracy": skm.accuracy_score(refs, preds),
        "precision_macro": skm.precision_score(refs, preds, average="macro", zero_division=0),
        "recall_macro": skm.recall_score(refs, preds, average="macro", zero_division=0),
        "f1_macro": skm.f1_score(refs, preds, average="macro", zero_division=0),
        "f1_micro": skm.f1_score(refs, preds, average="micro", zero_division=0),
        "f1_weighted": skm.f1_score(refs, preds, average="weighted", zero_division=0),
    }


def _random_rows(seed: int, n: int, labels: list[object], accuracy: float) -> list[dict]:
    rng = random.Random(seed)  # noqa: S311 - reproducible test data
    rows = []
    for _ in range(n):
        ref = rng.choice(labels)
        pred = ref if rng.random() < accuracy else rng.choice(labels)
        rows.append({"prediction": pred, "reference": ref,
                     "latency_ms": round(rng.lognormvariate(3, 0.6), 3)})
    return rows


@pytest.mark.parametrize(("rows", "n"), [
    pytest.param(_random_rows(1, 500, ["pos", "neg"], 0.8), 500, id="binary"),
    pytest.param(_random_rows(2, 3000, ["a", "b", "c", "d", "e"], 0.6), 3000, id="five-classes"),
    pytest.param(_random_rows(3, 400, [f"c{i}" for i in range(40)], 0.3), 400,
                 id="many-classes-some-unseen"),
    pytest.param([{"prediction": "x", "reference": "a"}, {"prediction": "a", "reference": "a"},
                  {"prediction": "b", "reference": "c"}], 3,
                 id="labels-only-in-predictions"),
    pytest.param([{"prediction": "z", "reference": "a"}] * 4, 4, id="all-wrong"),
])
def test_classification_equals_scikit_learn(tmp_path: Path, rows: list[dict], n: int) -> None:
    ev = _evaluate(_write_jsonl(tmp_path / "r.jsonl", rows), "classification")
    refs = [str(r["reference"]) for r in rows]
    preds = [str(r["prediction"]) for r in rows]
    expected = _sklearn(refs, preds)
    assert ev.rows == n
    assert set(ev.metrics) >= set(expected)
    for name, value in expected.items():
        assert ev.metrics[name] == pytest.approx(value, rel=1e-12, abs=1e-15), name


def test_labels_compare_as_strings(tmp_path: Path) -> None:
    rows = [{"prediction": 1, "reference": "1"}, {"prediction": "2", "reference": 2},
            {"prediction": 1.5, "reference": "1.5"}, {"prediction": True, "reference": "true"},
            {"prediction": 3, "reference": 4}]
    ev = _evaluate(_write_jsonl(tmp_path / "r.jsonl", rows), "classification")
    assert ev.metrics["accuracy"] == pytest.approx(4 / 5)
    assert ev.classification is not None
    assert ev.classification.labels == sorted(["1", "2", "1.5", "true", "3", "4"])


@pytest.mark.parametrize("name", ["classification.csv", "classification.jsonl"])
def test_fixture_files_equal_scikit_learn_and_numpy(name: str) -> None:
    path = DATA / name
    if name.endswith(".csv"):
        import csv

        with path.open(encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    else:
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
                if line.strip()]
    refs = [str(r["reference"]).replace("True", "true") for r in rows]
    preds = [str(r["prediction"]).replace("True", "true") for r in rows]
    ev = _evaluate(path, "classification")
    for metric, value in _sklearn(refs, preds).items():
        assert ev.metrics[metric] == pytest.approx(value, rel=1e-12), metric
    latencies = np.array([float(r["latency_ms"]) for r in rows])
    assert ev.metrics["latency_mean_ms"] == pytest.approx(np.mean(latencies), rel=1e-12)
    for metric, q in [("latency_p50_ms", 50), ("latency_p95_ms", 95), ("latency_p99_ms", 99)]:
        assert ev.metrics[metric] == pytest.approx(np.percentile(latencies, q), rel=1e-12)


def test_many_rows_stream_in_batches_and_equal_numpy(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(readers, "BATCH_BYTES", 2048)  # many small batches
    rows = _random_rows(7, 5000, ["a", "b", "c"], 0.7)
    seen: list[int] = []
    source = readers.open_results(_write_jsonl(tmp_path / "r.jsonl", rows), set(m.ALL))
    assert isinstance(source, readers.Rows)

    def counted():  # type: ignore[no-untyped-def]
        for batch in source.batches():
            seen.append(batch.rows)
            yield batch

    ev = m.evaluate(counted(), "classification")
    assert len(seen) > 10
    assert max(seen) < 100
    lat = np.array([r["latency_ms"] for r in rows])
    assert ev.metrics["latency_p99_ms"] == pytest.approx(np.percentile(lat, 99), rel=1e-12)
    assert ev.metrics["latency_mean_ms"] == pytest.approx(np.mean(lat), rel=1e-12)


# -- generation ------------------------------------------------------------------------------------
def _rouge_reference(hyps: list[str], refs: list[str], tokenizer: object = None) -> dict:
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True,
                                      tokenizer=tokenizer)
    scores = [scorer.score(r, h) for h, r in zip(hyps, refs, strict=True)]
    return {k: float(np.mean([s[k].fmeasure for s in scores]))
            for k in ("rouge1", "rouge2", "rougeL")}


class _ChineseCharacters:
    """Written here independently: CJK ideographs one token each, other words as rouge-score's
    tokenizer makes them (lower case, [a-z0-9]+, Porter stem when longer than 3)."""

    def __init__(self) -> None:
        self.stemmer = porter.PorterStemmer()

    def tokenize(self, text: str) -> list[str]:
        out = []
        for token in re.findall(r"[\u4e00-\u9fff]|[a-z0-9]+", text.lower()):
            out.append(self.stemmer.stem(token) if len(token) > 3 else token)
        return out


def _rows(path: Path) -> tuple[list[str], list[str], list[float]]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return ([r["prediction"] for r in rows], [r["reference"] for r in rows],
            [r["latency_ms"] for r in rows])


@pytest.mark.parametrize("tokenize", ["13a", "intl", "char", "none"])
def test_english_generation_equals_sacrebleu_and_rouge_score(tokenize: str) -> None:
    hyps, refs, latencies = _rows(DATA / "en_generation.jsonl")
    ev = _evaluate(DATA / "en_generation.jsonl", "generation", tokenize=tokenize, workers=1)
    assert ev.metrics["bleu"] == pytest.approx(
        sacrebleu.corpus_bleu(hyps, [refs], tokenize=tokenize).score, rel=1e-12)
    assert ev.metrics["chrf"] == pytest.approx(sacrebleu.corpus_chrf(hyps, [refs]).score,
                                               rel=1e-12)
    for name, value in _rouge_reference(hyps, refs).items():
        assert ev.metrics[name] == pytest.approx(value, rel=1e-12), name
    exact = np.mean([h.strip() == r.strip() for h, r in zip(hyps, refs, strict=True)])
    assert ev.metrics["exact_match"] == pytest.approx(exact)
    assert exact > 0
    assert ev.metrics["latency_p95_ms"] == pytest.approx(np.percentile(latencies, 95))


def test_chinese_generation_tokenizes_every_character() -> None:
    hyps, refs, latencies = _rows(DATA / "zh_generation.jsonl")
    ev = _evaluate(DATA / "zh_generation.jsonl", "generation", tokenize="zh", workers=1)
    assert ev.metrics["bleu"] == pytest.approx(
        sacrebleu.corpus_bleu(hyps, [refs], tokenize="zh").score, rel=1e-12)
    assert ev.metrics["chrf"] == pytest.approx(sacrebleu.corpus_chrf(hyps, [refs]).score,
                                               rel=1e-12)
    expected = _rouge_reference(hyps, refs, _ChineseCharacters())
    for name, value in expected.items():
        assert ev.metrics[name] == pytest.approx(value, rel=1e-12), name
    # rouge-score's own tokenizer sees no Chinese at all, which is why zh needs its own
    default = _rouge_reference(hyps, refs)
    assert expected["rouge1"] > 0.5
    assert default["rouge1"] < 0.15
    assert ev.metrics["exact_match"] == pytest.approx(0.1)
    assert ev.metrics["latency_mean_ms"] == pytest.approx(np.mean(latencies))


def _generation_rows(seed: int, n: int) -> list[dict[str, object]]:
    rng = random.Random(seed)  # noqa: S311 - reproducible test data
    words = ["models", "ships", "running", "tested", "deployments", "quickly", "canary",
             "rollback", "metrics", "latency", "improved", "the", "a", "of", "serving"]
    rows = []
    for _ in range(n):
        ref = " ".join(rng.choices(words, k=rng.randint(2, 9)))
        hyp = ref if rng.random() < 0.2 else " ".join(rng.choices(words, k=rng.randint(1, 9)))
        rows.append({"prediction": hyp, "reference": ref})
    return rows


def test_parallel_workers_give_the_same_values(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(m, "PARALLEL_MIN_ROWS", 100)
    monkeypatch.setattr(m, "CHUNK_ROWS", 150)
    rows = _generation_rows(11, 1200)
    path = _write_jsonl(tmp_path / "g.jsonl", rows)
    parallel = _evaluate(path, "generation", workers=2)
    serial = _evaluate(path, "generation", workers=1)
    assert parallel.metrics == serial.metrics
    hyps = [str(r["prediction"]) for r in rows]
    refs = [str(r["reference"]) for r in rows]
    assert parallel.metrics["bleu"] == sacrebleu.corpus_bleu(hyps, [refs]).score
    assert parallel.metrics["chrf"] == sacrebleu.corpus_chrf(hyps, [refs]).score
    for name, value in _rouge_reference(hyps, refs).items():
        assert parallel.metrics[name] == value, name


def test_row_errors_are_left_out_of_quality_and_latency(tmp_path: Path) -> None:
    rows = [{"prediction": "a", "reference": "a", "latency_ms": 10.0, "error": None},
            {"prediction": None, "reference": "b", "latency_ms": None, "error": "HTTP 500"},
            {"prediction": "b", "reference": "a", "latency_ms": 30.0, "error": None}]
    source = readers.open_results(_write_jsonl(tmp_path / "r.jsonl", rows), set(m.ALL))
    assert isinstance(source, readers.Rows)
    ev = m.evaluate(source.batches(), "classification")
    assert (ev.rows, ev.errors) == (3, 1)
    assert source.has_error_field
    assert ev.metrics["accuracy"] == 0.5
    assert ev.metrics["latency_mean_ms"] == 20.0


@settings(max_examples=60, deadline=None, database=None)
@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c", "d", "1", "é"]),
                          st.sampled_from(["a", "b", "c", "x", "1"])), min_size=1, max_size=60))
def test_classification_equals_scikit_learn_for_any_labels(pairs: list[tuple[str, str]]) -> None:
    preds = [p for p, _ in pairs]
    refs = [r for _, r in pairs]
    ev = m.evaluate([readers.Batch(preds, refs, None, rows=len(pairs))], "classification")
    for name, value in _sklearn(refs, preds).items():
        assert ev.metrics[name] == pytest.approx(value, rel=1e-12, abs=1e-15), name


def test_bad_row_found_while_workers_score_is_raised(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(m, "CHUNK_ROWS", 50)
    monkeypatch.setattr(readers, "BATCH_BYTES", 1024)
    path = _write_jsonl(tmp_path / "g.jsonl", _generation_rows(5, 600))
    with path.open("a", encoding="utf-8") as fh:
        fh.write('{"prediction": "a"}\n')
    source = readers.open_results(path, set(m.ALL))
    assert isinstance(source, readers.Rows)
    with pytest.raises(UsageError, match="line 601: missing field 'reference'"):
        m.evaluate(source.batches(), "generation", workers=2, size_hint=1 << 30)
