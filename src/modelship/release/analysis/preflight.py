"""Before a deploy changes anything: can the probes read a prediction from the answers?

Probes judge a release by the predictions they read from each version's answers (the serve
contract: `gate.online.request` in, `gate.online.response_field` out). When that field is not
in the answers, every probe is a failure on both versions, and nothing about the model was
measured. So `deploy` first sends a few of the probes' eval rows to the version serving now,
through the same client the probes use, and stops with exit 2 before the lock is taken or
helm is touched when no prediction can be read: the message names the key and shows one
answer (its first 200 characters, secrets masked).

When nothing serves yet (a first install has no analysed step), there is no one to ask: the
probes' answers are first read at the next deploy's preflight, or at the first analysed step,
which is inconclusive, never passed, when it reads nothing. Answers that are server errors or
timeouts (a 4xx may come from the API server's proxy) are reported, not proof of a wrong
configuration: the deploy goes on and its probes judge.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from modelship import console, serving
from modelship.errors import ConfigError
from modelship.release import proxy
from modelship.release.analysis.base import Analysis, Endpoint
from modelship.release.desired import Desired
from modelship.release.values import fullname

ROWS = 3  # a few rows: enough to see the answers' shape, cheap on a serving version
UNREADABLE = ("missing-field", "not-json")


def check_answers(spec: serving.ServeSpec, endpoint: Endpoint, rows: Sequence[serving.Row],
                  *, config_file: str | None = None, limit: int = ROWS) -> int:
    """Send the first `limit` rows to `endpoint`; the number of predictions read. ConfigError
    (exit 2, naming gate.online.response_field) when answers came back but none held a
    prediction; HTTP errors and timeouts are only reported."""
    sample = list(rows[:limit])
    if not sample:
        return 0
    with serving.Client(spec, sessions=endpoint.sessions) as client:
        run = serving.run(sample, endpoint.url(spec.predict), spec, client=client)
    read = run.rows - run.failures.total
    group = run.failures.commonest()
    if read > 0 or group is None:
        console.info(f"preflight: read {read}/{run.rows} predictions from {endpoint.version} "
                     f"(gate.online.response_field '{spec.response_field}')")
        return read
    where = f"{run.rows}/{run.rows} answers of {endpoint.version}, the version serving now"
    answer = console.redact(group.example.body) or "(empty)"
    if group.kind in UNREADABLE:
        raise ConfigError(
            f"no prediction can be read: {where} have no field '{spec.response_field}' "
            f"({group.cause}); one answer: {answer}", file=config_file,
            key="gate.online.response_field",
            hint="set gate.online.response_field to where the answer holds the prediction "
                 "(a dotted path such as outputs.0.label; \"\" for the whole answer)")
    # an HTTP error may come from the API server's proxy as well as the model (a 4xx while
    # endpoints change): not proof of a wrong configuration, so the probes judge it
    console.info(f"preflight: no prediction from {endpoint.version} ({group.cause}; one "
                 f"answer: {answer}): check gate.online.request and serve.predict "
                 f"({spec.predict}); the release's probes will judge it")
    return 0


def serving_endpoint(api: Any, namespace: str, release: str, desired: Desired | None,
                     values: Mapping[str, Any]) -> Endpoint | None:
    """The version serving now, through the API server's service proxy, as the probes reach
    it (the main Service's colour in blue-green, else the stable track's Service); None when
    nothing serves."""
    track = desired.serving if desired is not None else None
    if desired is None or track is None:
        return None
    from modelship.release import strategy

    (service, _), _ = strategy.of(desired.strategy).endpoints(desired, fullname(release, values))
    chart_service = values.get("service")
    port = chart_service.get("port") if isinstance(chart_service, Mapping) else None
    url = proxy.service_url(api, namespace, service, port if isinstance(port, int) else 80)
    return Endpoint(url, track.version, track.digest, proxy.Sessions(api))


def before_deploy(analysis: Analysis, serving_now: Callable[[], Endpoint | None], *,
                  config_file: str | None = None) -> None:
    """The deploy's preflight, only when the analysis has probes (nothing else reads
    predictions); `serving_now` finds the version serving now (a read of the release)."""
    from modelship.release.analysis.probe import ServeProber

    prober = getattr(analysis, "prober", None)
    if not isinstance(prober, ServeProber):
        return
    endpoint = serving_now()
    if endpoint is None:
        console.info("preflight: nothing serves yet; the probes' answers are first read at "
                     "the first analysed step")
        return
    check_answers(prober.spec, endpoint, prober.rows, config_file=config_file)
