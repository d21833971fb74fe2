"""`modelship gate`: judge eval results against thresholds and the production baseline.

Where the results come from: `--results FILE` (relative to the working directory), else
`gate.results` (relative to the config file); with `--endpoint URL` the eval set
(`gate.online.eval_set` or `--eval-set`) is sent to a running model server first (gate/online.py,
through the serve contract: URL is the server's base URL, serve.predict is appended unless the
URL has a path) and the answers are written to `--results FILE` (default: a file in $RUNNER_TEMP
or the temp directory).
No config file is needed: `modelship gate --results r.jsonl --threshold accuracy='>= 0.9'`.

The task is `--task`, else `gate.task`, else inferred: from the metric names in the thresholds
and baseline tolerances (bleu, rouge... -> generation), or from the names in a precomputed
metrics file; otherwise classification.

The report JSON goes to `--report-json OUT` when given. Without it, inside GitHub Actions it is
written to $RUNNER_TEMP (else the temp directory) as `modelship-gate-report-<step id>.json`
(two gate steps in one job keep their own), so the step
output `report` is always a path to a file; in a terminal nothing is written and there is no
`report` output (the report is what `--json` prints). Inside Actions a copy also goes to
`.modelship/gate-report.json` in the workspace (output `report-file`, relative to the
workspace): the file the next job uploads as an artifact and `build --gate-report` reads.

Credentials in `--endpoint` (`http://user:password@host/...`) are masked as soon as the command
starts, and the endpoint is shown and stored with the password replaced by `***`.

Exit 0 when every check passes, 1 when one fails (the report says which) or when every online
request failed (one line names the commonest cause), 2 for bad input or configuration, 3 when the
model server cannot be reached at all.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelship import console, ghactions, serving
from modelship.config import Config, suggest
from modelship.errors import EXIT_OK, EXIT_REJECTED, ConfigError, UsageError
from modelship.gate import intervals as intervals_
from modelship.gate import judge, online, readers, report
from modelship.gate import metrics as m
from modelship.outcome import Outcome

HELP = "judge a model's eval results against thresholds and the production baseline"
DEFAULT_RESAMPLES = 1000
REPORT_NAME = "modelship-gate-report{suffix}.json"  # in $RUNNER_TEMP without --report-json
WORKSPACE_REPORT = ".modelship/gate-report.json"  # the copy later jobs take (an artifact)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--results", metavar="FILE",
                        help="eval results: JSONL/CSV rows (prediction, reference, optional "
                             "latency_ms) or a JSON object of metrics (default: gate.results); "
                             "with --endpoint, where to write the answers")
    parser.add_argument("--baseline", metavar="FILE",
                        help="a gate report of the production model (default: "
                             "gate.baseline.report)")
    parser.add_argument("--report-json", metavar="OUT", help="write the report JSON here")
    parser.add_argument("--task", choices=sorted(m.TASKS),
                        help="classification or generation (default: gate.task, else inferred)")
    parser.add_argument("--tokenize", metavar="NAME",
                        help=f"BLEU tokenizer: {', '.join(m.TOKENIZERS)} (default: gate.tokenize "
                             "or 13a)")
    parser.add_argument("--threshold", action="append", default=[], metavar="METRIC='OP VALUE'",
                        help="add or override a threshold, e.g. accuracy='>= 0.9' (repeatable)")
    parser.add_argument("--bootstrap", type=int, metavar="N",
                        help=f"bootstrap resamples for the 95%% intervals, 0 for none (default: "
                             f"gate.bootstrap or {DEFAULT_RESAMPLES})")
    parser.add_argument("--workers", type=int, metavar="N",
                        help="processes for per-row generation metrics (default: gate.workers "
                             "or the number of CPUs)")
    parser.add_argument("--endpoint", metavar="URL",
                        help="evaluate online: the model server's base URL (http://host:8080); "
                             "each eval row is POSTed to it + serve.predict (default /predict); "
                             "a URL with a path is used as given")
    parser.add_argument("--eval-set", metavar="FILE",
                        help="eval set for --endpoint (default: gate.online.eval_set)")
    parser.add_argument("--concurrency", type=int, metavar="N",
                        help="requests in flight for --endpoint (default: gate.online.concurrency "
                             "or 8)")


# -- settings --------------------------------------------------------------------------------
def _task(args: argparse.Namespace, cfg: Config, names: list[str]) -> str | None:
    if args.task:
        return str(args.task)
    if cfg.has("gate.task"):
        return cfg.get_str("gate.task", choices=list(m.TASKS))
    families = {t for t, family in m.TASKS.items() for name in names if name in family}
    if len(families) > 1:
        raise ConfigError("the thresholds name both classification and generation metrics; "
                          "set gate.task", file=cfg.file, key="gate.task")
    return families.pop() if families else None


def _tokenize(args: argparse.Namespace, cfg: Config) -> str:
    if args.tokenize:
        if args.tokenize not in m.TOKENIZERS:
            raise UsageError(f"--tokenize {args.tokenize}: expected one of "
                             f"{', '.join(m.TOKENIZERS)}",
                             hint=suggest(args.tokenize, m.TOKENIZERS))
        return str(args.tokenize)
    return cfg.get_str("gate.tokenize", "13a", choices=list(m.TOKENIZERS))


def _resamples(args: argparse.Namespace, cfg: Config) -> int:
    if args.bootstrap is not None:
        if args.bootstrap < 0:
            raise UsageError(f"--bootstrap {args.bootstrap}: expected 0 or more resamples")
        return int(args.bootstrap)
    return cfg.get_int("gate.bootstrap", DEFAULT_RESAMPLES, minimum=0)


def _workers(args: argparse.Namespace, cfg: Config) -> int | None:
    if args.workers is not None:
        if args.workers < 1:
            raise UsageError(f"--workers {args.workers}: expected 1 or more")
        return int(args.workers)
    return cfg.get_int("gate.workers", minimum=1) if cfg.has("gate.workers") else None


def _baseline(args: argparse.Namespace, cfg: Config) -> judge.Baseline | None:
    tolerances = judge.tolerances_from_config(cfg)
    if args.baseline:
        path = Path(args.baseline)
    elif cfg.has("gate.baseline.report"):
        path = cfg.get_path("gate.baseline.report")
    else:
        if tolerances is not None:
            raise cfg.error("gate.baseline.report", "a tolerance is set but no baseline report",
                            hint="set gate.baseline.report or pass --baseline FILE")
        return None
    return judge.load_baseline(path, tolerances)


def _online_settings(args: argparse.Namespace, cfg: Config) -> online.OnlineSettings:
    if args.eval_set:
        eval_set = Path(args.eval_set)
    elif cfg.has("gate.online.eval_set"):
        eval_set = cfg.get_path("gate.online.eval_set")
    else:
        raise UsageError("--endpoint needs an eval set: set gate.online.eval_set or pass "
                         "--eval-set FILE")
    settings = online.OnlineSettings(args.endpoint, eval_set,
                                     serving.ServeSpec.from_config(cfg))
    if args.concurrency is not None:
        if args.concurrency < 1:
            raise UsageError(f"--concurrency {args.concurrency}: expected 1 or more")
        settings = settings.with_concurrency(args.concurrency)
    try:
        settings.url  # noqa: B018 - checked now, before any work
    except ValueError as e:
        raise UsageError(f"--endpoint {serving.shown_url(args.endpoint)}: {e}",
                         hint="pass the model server's base URL, e.g. http://host:8080") from None
    return settings


def _results_path(args: argparse.Namespace, cfg: Config) -> Path:
    if args.results:
        return Path(args.results)
    if cfg.has("gate.results"):
        return cfg.get_path("gate.results")
    raise UsageError("no eval results: pass --results FILE or set gate.results in "
                     f"{cfg.file}", hint="or evaluate a running server with --endpoint URL")


def _precomputed_path(args: argparse.Namespace, cfg: Config) -> bool:
    """Whether the results look like a precomputed metrics file (judged by its own names)."""
    if args.results:
        return Path(args.results).suffix.lower() == ".json"
    return cfg.has("gate.results") and cfg.get_str("gate.results").lower().endswith(".json")


def _online_results_path(args: argparse.Namespace) -> Path:
    if args.results:
        return Path(args.results)
    base = ghactions.temp_dir() or tempfile.gettempdir()
    return Path(base) / f"modelship-gate-results-{os.getpid()}.jsonl"


# -- run -----------------------------------------------------------------------------------
def _report_path(args: argparse.Namespace) -> Path | None:
    """Where the report JSON is written: --report-json, else (inside Actions only) the runner's
    temp directory, so the `report` step output is a path; None in a terminal."""
    if args.report_json:
        return Path(args.report_json)
    if ghactions.in_actions():
        step = ghactions.step_id()
        name = REPORT_NAME.format(suffix=f"-{step}" if step else "")
        return Path(ghactions.temp_dir() or tempfile.gettempdir()) / name
    return None


def _workspace_report(result: dict[str, Any]) -> str | None:
    """Inside Actions, the report also goes to WORKSPACE_REPORT in the workspace, the one
    directory a container action shares with later steps (its $RUNNER_TEMP is the
    container's own): a fixed path an upload-artifact step, and the build job's
    `--gate-report`, can name. Returns that path relative to the workspace."""
    workspace = os.environ.get("GITHUB_WORKSPACE")
    if not ghactions.in_actions() or not workspace:
        return None
    report.write(result, Path(workspace) / WORKSPACE_REPORT)
    return WORKSPACE_REPORT


def run(args: argparse.Namespace, cfg: Config) -> Outcome:
    if args.endpoint:  # before anything can print it
        serving.mask_url(args.endpoint)
    thresholds = judge.thresholds_from_config(cfg)
    thresholds.update(judge.thresholds_from_flags(args.threshold))
    baseline = _baseline(args, cfg)
    tolerances = (baseline.tolerances if baseline else None) or []
    task = _task(args, cfg, [*thresholds, *(t.metric for t in tolerances)])
    # usage errors first, before any request or row is read
    how = _How(_tokenize(args, cfg), _resamples(args, cfg), _workers(args, cfg))
    wanted = [(name, t.source) for name, t in thresholds.items()]
    wanted += [(t.metric, f"{cfg.file}: gate.baseline.tolerance.{t.metric}")
               for t in tolerances]
    _refuse_other_task(args, cfg, task, wanted)

    run_online = None
    if args.endpoint:
        run_online = online.run(_online_settings(args, cfg), _online_results_path(args))
        path = run_online.results
    else:
        path = _results_path(args, cfg)
    source = readers.open_results(path, set(m.ALL))
    found = _measure(source, path, task, how, run_online)
    for name, where in wanted:
        if name not in found.applicable:
            raise UsageError(f"{where}: " + judge.availability_error(
                name, found.task, found.values,
                precomputed=isinstance(source, readers.Precomputed),
                online=run_online is not None))
    judge.require_shared_metrics(found.values, baseline)
    checks = judge.judge(found.values, thresholds, baseline, found.intervals)
    passed = all(c.passed for c in checks)
    failed_line = None
    if run_online is not None and run_online.all_failed:  # nothing was judged: never a pass
        failed_line = online.failure_line(run_online)
        passed = False

    result = report.build(
        passed=passed, n=found.n, metrics=found.values, checks=[c.as_dict() for c in checks],
        task=found.task, results=str(path), intervals=found.intervals,
        baseline=({"report": str(baseline.path), "metrics": baseline.metrics}
                  if baseline else None),
        **found.extra)
    if cfg.has("model.name"):
        result["model"] = cfg.get_str("model.name")
    if run_online is not None:
        result["online"] = _online_result(args, run_online, failed_line)
    return Outcome(result, EXIT_OK if passed else EXIT_REJECTED, text=report.text(result),
                   summary=report.summary(result), outputs=_outputs(args, result, passed),
                   annotations=report.failed_checks(result))


def _refuse_other_task(args: argparse.Namespace, cfg: Config, task: str | None,
                       wanted: list[tuple[str, str]]) -> None:
    """A metric of the other task fails now, before any work."""
    if task is None:
        return
    other = set(m.ALL) - set(m.TASKS[task]) - set(m.LATENCY) - set(m.ONLINE)
    for name, where in wanted:
        if name in other and (args.endpoint or not _precomputed_path(args, cfg)):
            raise UsageError(f"{where}: " + judge.availability_error(
                name, task, {}, precomputed=False, online=bool(args.endpoint)))


@dataclass(frozen=True)
class _How:
    tokenize: str
    resamples: int
    workers: int | None


@dataclass
class _Measured:
    task: str
    values: dict[str, float]
    n: int | None
    applicable: set[str]
    intervals: dict[str, Any]
    extra: dict[str, Any]


def _measure(source: Any, path: Path, task: str | None, how: _How,
             run_online: online.OnlineRun | None) -> _Measured:
    """The metrics of a results file (precomputed, or computed from its rows) and which
    metrics it can speak for."""
    extra: dict[str, Any] = {}
    if isinstance(source, readers.Precomputed):
        values = dict(source.metrics)
        if task is None:
            task = "generation" if any(k in m.GENERATION for k in values) else "classification"
        if source.ignored:
            console.info(f"{path}: ignoring entries that are not gate metrics: "
                         f"{', '.join(source.ignored)}")
        found = _Measured(task, values, source.n, set(values), {}, extra)
    else:
        task = task or "classification"
        if task == "generation":
            source.validate()
        progress = console.Progress(f"reading {path}")
        evaluation = m.evaluate(source.batches(), task, tokenize=how.tokenize,
                                workers=how.workers, progress=progress,
                                size_hint=source.size)
        progress.done(f"{evaluation.rows:,} rows")
        values = evaluation.metrics
        applicable = set(m.TASKS[task])
        if source.has_latency or run_online is not None:
            applicable |= set(m.LATENCY)
        if run_online is not None or source.has_error_field:
            applicable.add("error_rate")
            values["error_rate"] = evaluation.errors / evaluation.rows
            extra["errors"] = evaluation.errors
        if run_online is not None:
            applicable.add("throughput_rps")
            values["throughput_rps"] = run_online.throughput_rps
        found = _Measured(task, values, evaluation.rows, applicable,
                          intervals_.compute(evaluation, how.resamples), extra)
    if task == "generation":
        extra["tokenize"] = how.tokenize
    return found


def _online_result(args: argparse.Namespace, run_online: online.OnlineRun,
                   failed_line: str | None) -> dict[str, Any]:
    result: dict[str, Any] = {
        "endpoint": serving.shown_url(args.endpoint), "url": run_online.url,
        "rows": run_online.rows, "errors": run_online.errors, "seconds": run_online.seconds,
        "errors_by_cause": run_online.failures.as_list()}
    if failed_line:
        result["failure"] = failed_line
    return result


def _outputs(args: argparse.Namespace, result: dict[str, Any], passed: bool) -> dict[str, str]:
    """The step outputs; the report is written where --report-json (or the runner) says."""
    outputs = {"passed": str(passed).lower()}
    report_path = _report_path(args)
    if report_path is not None:
        report.write(result, report_path)
        outputs["report"] = str(report_path)
    stable = _workspace_report(result)
    if stable is not None:
        outputs["report-file"] = stable
    return outputs
