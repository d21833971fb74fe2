"""The serve contract: everything that talks to a model server (DESIGN.md, "Serve contract").

    eval-set rows -> request bodies (one template, `fill`) -> POST base URL + serve.predict
    -> prediction (at `response_field`) or a classified Failure -> failures grouped by cause

The online gate (`gate/online.py`), the build's smoke test (`image/smoke.py`) and the release
analysis probes all go through this package, so a request that works in one works in all.

The API, smallest first (all importable from `modelship.serving`; spec.py, rows.py, client.py
and batch.py hold them by concern):
- `ServeSpec.from_config(cfg)`: `serve.*` and `gate.online.*` as one frozen value.
- `iter_rows(path)` / `load_rows(path, limit)`: eval-set rows (JSONL or CSV) with line numbers.
- `request_body(spec, row)`: the body for a row: `fill(spec.request, row)`, or without a
  template the row minus `reference`.
- `predict_url(base_url, spec.predict)`: a base URL (`http://host:8080`, also with a trailing
  `/`) gets serve.predict appended; a URL with a path is used as given.
- `Client(spec).predict(url, body) -> Answer`: prediction and latency, or a Failure (kind
  connection | timeout | http | not-json | missing-field), after retries with backoff.
- `stream(rows, url, spec) -> Iterator[Result]`: `spec.concurrency` requests in flight, results
  in row order. The first row goes alone: a server that cannot be reached at all is an
  InfraError (exit 3), not one failure per row.
- `run(rows, base_url, spec) -> Run`: every Result plus `Failures` grouped by cause.

Library code: bad input raises UsageError, an unreachable server InfraError; a request that
fails is data (a Failure), judged by the caller.
"""

from modelship.serving.batch import FailureGroup, Failures, Result, Run, run, stream
from modelship.serving.client import Answer, Client, Failure, FailureKind, get_status
from modelship.serving.rows import (
    MISSING,
    REFERENCE,
    Row,
    extract,
    fill,
    iter_rows,
    load_rows,
    request_body,
)
from modelship.serving.spec import (
    JSON,
    ServeSpec,
    config_path,
    mask_url,
    predict_url,
    serve_path,
    shown_url,
    uses_predict_path,
)

__all__ = [
    "JSON", "MISSING", "REFERENCE", "Answer", "Client", "Failure", "FailureGroup", "FailureKind",
    "Failures", "Result", "Row", "Run", "ServeSpec", "config_path", "extract", "fill",
    "get_status", "iter_rows", "load_rows", "mask_url", "predict_url", "request_body", "run",
    "serve_path", "shown_url", "stream", "uses_predict_path",
]
