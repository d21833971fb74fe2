"""Metrics, with the reference libraries' definitions (DESIGN.md, "Gate contract").

- classification: scikit-learn's accuracy, precision/recall/F1 (macro, micro, weighted) with
  zero_division=0 over the labels seen in references or predictions, computed from a confusion
  count of (reference, prediction) pairs, so rows are never held in memory.
- generation: sacrebleu corpus BLEU (the configured tokenizer) and chrF; rouge-score ROUGE-1/2/L
  F-measure with stemming, averaged over rows; exact match after strip. With `tokenize: zh` ROUGE
  sees every CJK character as a token (rouge-score's own tokenizer drops them). Per-row work is
  spread over processes when there are many rows; sacrebleu's per-segment statistics are summed,
  which is what its corpus_score does, so values are the same.
- latency: mean and numpy's default (linear) percentiles 50, 95, 99.

The per-row statistics are kept (a confusion count, per-row sacrebleu statistics and ROUGE
scores, latencies) so that intervals.py can bootstrap them.
"""

from __future__ import annotations

import functools
import gc
import multiprocessing
import os
import re
import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from modelship.gate.column import FloatColumn, latency_values
from modelship.gate.readers import Batch

CLASSIFICATION = ("accuracy", "precision_macro", "recall_macro", "f1_macro", "f1_micro",
                  "f1_weighted")
GENERATION = ("bleu", "chrf", "rouge1", "rouge2", "rougeL", "exact_match")
LATENCY = ("latency_mean_ms", "latency_p50_ms", "latency_p95_ms", "latency_p99_ms")
ONLINE = ("error_rate", "throughput_rps")
TASKS = {"classification": CLASSIFICATION, "generation": GENERATION}
ALL = (*CLASSIFICATION, *GENERATION, *LATENCY, *ONLINE)
LOWER_IS_BETTER = frozenset((*LATENCY, "error_rate"))
# sacrebleu tokenizers that work offline with sacrebleu's own dependencies (spm and flores
# download a model, which the gate never does)
TOKENIZERS = ("13a", "intl", "zh", "char", "none", "ja-mecab", "ko-mecab")
ROUGE_TYPES = ("rouge1", "rouge2", "rougeL")
PARALLEL_MIN_ROWS = 2000  # below this, starting processes costs more than it saves
PARALLEL_MIN_BYTES = 256 << 10  # a file this large has enough rows for processes from the start
CHUNK_ROWS = 1000


def higher_is_better(name: str) -> bool:
    return name not in LOWER_IS_BETTER


# -- classification ------------------------------------------------------------------------
@dataclass
class ClassificationStats:
    """Counts of (reference, prediction) pairs over sorted labels: a sparse confusion matrix."""

    labels: list[str]
    ref: np.ndarray  # label index of each non-empty cell
    pred: np.ndarray
    counts: np.ndarray  # rows in each cell

    @classmethod
    def from_pairs(cls, pairs: Counter[tuple[str, str]]) -> ClassificationStats:
        labels = sorted({label for pair in pairs for label in pair})
        index = {label: i for i, label in enumerate(labels)}
        ref = np.fromiter((index[r] for r, _ in pairs), dtype=np.int64, count=len(pairs))
        pred = np.fromiter((index[p] for _, p in pairs), dtype=np.int64, count=len(pairs))
        counts = np.fromiter(pairs.values(), dtype=np.int64, count=len(pairs))
        return cls(labels, ref, pred, counts)

    @property
    def n(self) -> int:
        return int(self.counts.sum())

    def sums(self, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """tp, true and predicted counts per label, for each row of `counts` (resamples x cells)."""
        b = counts.shape[0]
        size = len(self.labels)
        offset = (np.arange(b, dtype=np.int64) * size)[:, None]
        flat = counts.ravel().astype(np.float64)

        def per_label(index: np.ndarray, weights: np.ndarray) -> np.ndarray:
            return np.bincount((offset + index[None, :]).ravel(), weights=weights,
                               minlength=b * size).reshape(b, size)

        diagonal = self.ref == self.pred
        tp = per_label(self.ref[diagonal], counts[:, diagonal].ravel().astype(np.float64))
        return tp, per_label(self.ref, flat), per_label(self.pred, flat)

    def values(self) -> dict[str, float]:
        """The point estimates, with scikit-learn's arithmetic step for step."""
        tp, true, predicted = (a[0] for a in self.sums(self.counts[None, :]))
        precision = _divide(tp, predicted)
        recall = _divide(tp, true)
        f1 = _divide(2 * tp, true + predicted)
        total_tp, total = tp.sum(), true.sum()
        return {
            "accuracy": float(total_tp / total),
            "precision_macro": float(np.average(precision)),
            "recall_macro": float(np.average(recall)),
            "f1_macro": float(np.average(f1)),
            "f1_micro": float(_divide(np.array([2 * total_tp]),
                                      np.array([true.sum() + predicted.sum()]))[0]),
            "f1_weighted": float(np.average(f1, weights=true)),
        }

    def resampled(self, counts: np.ndarray) -> dict[str, np.ndarray]:
        """The metrics for many resampled cell counts at once; labels absent from a resample
        drop out of its averages, as they would for scikit-learn."""
        tp, true, predicted = self.sums(counts)
        present = (true + predicted) > 0
        labels_present = present.sum(axis=1)
        n = true.sum(axis=1)
        f1 = _divide(2 * tp, true + predicted)
        return {
            "accuracy": tp.sum(axis=1) / n,
            "precision_macro": _divide(tp, predicted).sum(axis=1) / labels_present,
            "recall_macro": _divide(tp, true).sum(axis=1) / labels_present,
            "f1_macro": f1.sum(axis=1) / labels_present,
            "f1_micro": tp.sum(axis=1) / n,
            "f1_weighted": (f1 * true).sum(axis=1) / n,
        }


def _divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator with 0 where the denominator is 0 (zero_division=0)."""
    out = np.zeros(np.broadcast(numerator, denominator).shape, dtype=np.float64)
    np.divide(numerator, denominator, out=out, where=denominator != 0)
    return out


# -- generation ----------------------------------------------------------------------------
_CJK = (
    "\u1100-\u11ff"  # Hangul Jamo
    "\u2e80-\u2fdf"  # CJK radicals, Kangxi radicals
    "\u3040-\u30ff"  # Hiragana, Katakana
    "\u3100-\u312f\u3130-\u318f\u31a0-\u31bf\u31f0-\u31ff"  # Bopomofo, Hangul compat, Kana ext
    "\u3400-\u4dbf"  # CJK extension A
    "\u4e00-\u9fff"  # CJK unified ideographs
    "\uac00-\ud7af"  # Hangul syllables
    "\uf900-\ufaff"  # CJK compatibility ideographs
    "\U00020000-\U0003134f"  # CJK extensions B-G
)
_CJK_OR_WORD = re.compile(f"[{_CJK}]|[a-z0-9]+")


class _CachedStemmer:
    """nltk's Porter stemmer (the one rouge-score uses) with a memory of words already seen."""

    def __init__(self) -> None:
        from nltk.stem import porter

        self.stem = functools.lru_cache(maxsize=1 << 16)(porter.PorterStemmer().stem)


def rouge_tokenizer(tokenize: str) -> Any:
    """rouge-score's tokenizer (lower case, [a-z0-9]+ words, Porter stemming of words longer
    than 3), with every CJK character a token of its own when `tokenize` is zh."""
    return _RougeTokenizer(_CachedStemmer(), cjk=tokenize == "zh")


class _RougeTokenizer:
    """What rouge-score's scorer calls: `tokenize(text) -> tokens` (its Tokenizer interface)."""

    def __init__(self, stemmer: _CachedStemmer, *, cjk: bool) -> None:
        self.stemmer = stemmer
        self.cjk = cjk

    def tokenize(self, text: str) -> list[str]:
        if not self.cjk:
            from rouge_score import tokenize as rouge_tokenize

            tokens: list[str] = rouge_tokenize.tokenize(text, self.stemmer)
            return tokens
        stem = self.stemmer.stem
        return [stem(t) if len(t) > 3 else t for t in _CJK_OR_WORD.findall(text.lower())]


class _Scorers:
    def __init__(self, tokenize: str) -> None:
        from rouge_score import rouge_scorer
        from sacrebleu.metrics.bleu import BLEU
        from sacrebleu.metrics.chrf import CHRF

        self.bleu = BLEU(tokenize=tokenize)
        self.chrf = CHRF()
        self.rouge = rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=True,
                                              tokenizer=rouge_tokenizer(tokenize))


@functools.lru_cache(maxsize=4)
def scorers(tokenize: str) -> _Scorers:
    return _Scorers(tokenize)


@dataclass
class GenerationChunk:
    bleu: np.ndarray  # per-row sacrebleu BLEU statistics
    chrf: np.ndarray  # per-row sacrebleu chrF statistics
    rouge: np.ndarray  # per-row F-measure: rouge1, rouge2, rougeL
    exact: np.ndarray  # per-row exact match after strip


def score_chunk(job: tuple[str, list[str], list[str]]) -> GenerationChunk:
    """The expensive per-row work for a slice of rows (runs in worker processes)."""
    tokenize, hyps, refs = job
    s = scorers(tokenize)
    collecting = gc.isenabled()
    gc.disable()  # scoring allocates millions of short-lived, acyclic objects; no cycles to find
    try:
        return _score(s, hyps, refs)
    finally:
        if collecting:
            gc.enable()


def _score(s: _Scorers, hyps: list[str], refs: list[str]) -> GenerationChunk:
    bleu = np.asarray(s.bleu._extract_corpus_statistics(hyps, [refs]), dtype=np.int64)
    chrf = np.asarray(s.chrf._extract_corpus_statistics(hyps, [refs]), dtype=np.int64)
    rouge = np.empty((len(hyps), len(ROUGE_TYPES)), dtype=np.float64)
    score = s.rouge.score
    for i, (hyp, ref) in enumerate(zip(hyps, refs, strict=True)):
        result = score(ref, hyp)  # rouge-score takes (target, prediction)
        rouge[i] = [result[t].fmeasure for t in ROUGE_TYPES]
    exact = np.fromiter((h.strip() == r.strip() for h, r in zip(hyps, refs, strict=True)),
                        dtype=bool, count=len(hyps))
    return GenerationChunk(bleu.reshape(len(hyps), -1), chrf.reshape(len(hyps), -1), rouge,
                           exact)


@dataclass
class GenerationStats:
    tokenize: str
    bleu: np.ndarray
    chrf: np.ndarray
    rouge: np.ndarray
    exact: np.ndarray

    @property
    def n(self) -> int:
        return len(self.exact)

    def bleu_score(self, stats: Iterable[Any]) -> float:
        return float(scorers(self.tokenize).bleu._compute_score_from_stats(
            [int(x) for x in stats]).score)

    def chrf_score(self, stats: Iterable[Any]) -> float:
        return float(scorers(self.tokenize).chrf._compute_score_from_stats(
            [int(x) for x in stats]).score)

    def values(self) -> dict[str, float]:
        out = {"bleu": self.bleu_score(self.bleu.sum(axis=0)),
               "chrf": self.chrf_score(self.chrf.sum(axis=0))}
        for i, name in enumerate(ROUGE_TYPES):
            out[name] = float(np.mean(self.rouge[:, i]))
        out["exact_match"] = float(np.mean(self.exact))
        return out


def _chunks(batches: Iterable[Batch], tokenize: str,
            sink: FloatColumn) -> Iterator[tuple[str, list[str], list[str]]]:
    for batch in batches:
        if batch.latencies is not None:
            sink.extend(batch.latencies)
        for start in range(0, len(batch.predictions), CHUNK_ROWS):
            stop = start + CHUNK_ROWS
            yield tokenize, batch.predictions[start:stop], batch.references[start:stop]


def _context() -> multiprocessing.context.BaseContext:
    # fork is fastest, but forking a process with threads (a test's HTTP server, online eval)
    # can deadlock; start clean interpreters then.
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


def _scored(jobs: Iterator[tuple[str, list[str], list[str]]], workers: int,
            parallel_now: bool) -> Iterator[GenerationChunk]:
    """Score chunks in order: in this process while rows are few, then in a pool."""
    if workers <= 1:
        yield from map(score_chunk, jobs)
        return
    seen = 0
    while not parallel_now and seen < PARALLEL_MIN_ROWS:
        job = next(jobs, None)
        if job is None:
            return
        yield score_chunk(job)
        seen += len(job[1])
    feed = _Feed(jobs)
    with _context().Pool(workers) as pool:
        for part in pool.imap(score_chunk, feed):
            if feed.error is not None:  # bad input further on: say so now, not after scoring
                raise feed.error
            yield part
    if feed.error is not None:
        raise feed.error


class _Feed:
    """The pool reads jobs ahead in a thread; an input error there is kept for the caller."""

    def __init__(self, jobs: Iterator[tuple[str, list[str], list[str]]]) -> None:
        self.jobs = jobs
        self.error: Exception | None = None

    def __iter__(self) -> Iterator[tuple[str, list[str], list[str]]]:
        try:
            yield from self.jobs
        except Exception as e:  # raised again in the caller's thread
            self.error = e


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


# -- everything ----------------------------------------------------------------------------
@dataclass
class Evaluation:
    task: str
    rows: int  # rows read, errors included
    errors: int
    metrics: dict[str, float] = field(default_factory=dict)
    classification: ClassificationStats | None = None
    generation: GenerationStats | None = None
    latencies: np.ndarray | None = None


def evaluate(batches: Iterable[Batch], task: str, *, tokenize: str = "13a",
             workers: int | None = None, progress: Any = None,
             size_hint: int = 0) -> Evaluation:
    """Stream batches through the task's metrics and the latency metrics. `size_hint` (bytes
    of input) lets a large generation file go to worker processes from the first row."""
    counted = _Counted(batches, progress)
    latencies = FloatColumn()
    result = Evaluation(task, 0, 0)
    if task == "classification":
        pairs: Counter[tuple[str, str]] = Counter()
        for batch in counted:
            pairs.update(zip(batch.references, batch.predictions, strict=True))
            if batch.latencies is not None:
                latencies.extend(batch.latencies)
        if pairs:
            result.classification = ClassificationStats.from_pairs(pairs)
            result.metrics.update(result.classification.values())
    else:
        workers = default_workers() if workers is None else max(1, workers)
        scorers(tokenize)  # import and build once, before worker processes fork
        parallel_now = size_hint >= PARALLEL_MIN_BYTES
        parts = list(_scored(_chunks(counted, tokenize, latencies), workers, parallel_now))
        if parts:
            result.generation = GenerationStats(
                tokenize,
                np.concatenate([p.bleu for p in parts]), np.concatenate([p.chrf for p in parts]),
                np.concatenate([p.rouge for p in parts]), np.concatenate([p.exact for p in parts]))
            if result.generation.n:
                result.metrics.update(result.generation.values())
    result.rows, result.errors = counted.rows, counted.errors
    if len(latencies):
        result.latencies = latencies.finish()
        result.metrics.update(latency_values(result.latencies))
    return result


class _Counted:
    def __init__(self, batches: Iterable[Batch], progress: Any) -> None:
        self.batches = batches
        self.progress = progress
        self.rows = 0
        self.errors = 0

    def __iter__(self) -> Iterator[Batch]:
        for batch in self.batches:
            self.rows += batch.rows
            self.errors += batch.errors
            if self.progress is not None:
                self.progress.tick(f"{self.rows:,} rows read")
            yield batch
