"""The serve contract's settings and URLs: `ServeSpec` (serve.* and gate.online.*), serve.*
paths, joining a base URL with serve.predict, and URLs shown without their password."""

from __future__ import annotations

import contextlib
import json
import urllib.parse
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from modelship import ghactions
from modelship.serving import protocol as protocols

if TYPE_CHECKING:
    from modelship.config import Config

# A JSON value as the request template, a row's fields and an answer hold it. `Any` on purpose:
# bodies and answers are whatever the model server defines.
JSON = Any


@dataclass(frozen=True)
class ServeSpec:
    """How to talk to the model server: `serve.*` (where, which runtime) and `gate.online.*`
    (what to send, where the answer is, how hard to try). A protocol preset fills the paths,
    the request and the response field the user did not write (serving/protocol.py)."""

    predict: str = "/predict"
    health: str = "/healthz"
    metrics: str | None = "/metrics"  # None: the server has no metrics endpoint
    port: int = 8080
    request: JSON = None  # body template; None: the protocol builds it from the row
    response_field: str = "prediction"  # dotted path in the answer; "": the whole answer
    timeout: float = 30.0  # seconds per attempt
    retries: int = 2  # extra attempts after a connection error, timeout, 429 or 5xx
    backoff: float = 0.2  # seconds before the first retry, doubling each time (at most 5 s)
    concurrency: int = 8
    protocol: str = "custom"  # serve.protocol: a name in protocol.PRESETS
    model: str | None = None  # serve.model: the name a protocol's paths and bodies use
    liveness: str | None = None  # a cheaper liveness path than health (the preset's), if any
    metrics_port: int | None = None  # serve.metrics_port: None means serve.port
    startup_timeout: float = protocols.DEFAULT_STARTUP_TIMEOUT  # serve.startup_timeout, s
    warmup: int = 0  # serve.warmup: requests to each new pod before it is analysed
    max_tokens: int = protocols.DEFAULT_MAX_TOKENS  # serve.max_tokens (OpenAI presets)
    stream: bool = False  # ask an OpenAI preset to stream (SSE) and time its tokens (probes)

    @property
    def preset(self) -> protocols.Preset:
        return protocols.PRESETS[self.protocol]

    @classmethod
    def from_config(cls, cfg: Config) -> ServeSpec:
        """Read and check every key now, so a mistake names its key before any request."""
        request = cfg.raw("gate.online.request", None)
        if isinstance(request, str):
            with contextlib.suppress(ValueError):  # else a plain string template is the body
                request = json.loads(request)
        timeout = cfg.get_duration("gate.online.timeout", 30.0)
        if timeout <= 0:
            raise cfg.error("gate.online.timeout", "expected a duration greater than 0 such as "
                            f"30s, got '{cfg.raw('gate.online.timeout')}'")
        preset = protocols.PRESETS[cfg.get_str("serve.protocol", "custom",
                                               choices=protocols.PROTOCOLS)]
        model = _model(cfg, preset)
        metrics = cfg.get_str("serve.metrics", "/metrics")
        return cls(
            predict=config_path(cfg, "serve.predict", preset.predict, model),
            health=config_path(cfg, "serve.health", preset.health, model),
            metrics=config_path(cfg, "serve.metrics", "/metrics") if metrics.strip() else None,
            port=cfg.get_int("serve.port", 8080, minimum=1, maximum=65535),
            request=request,
            response_field=cfg.get_str("gate.online.response_field", preset.response_field),
            timeout=timeout,
            retries=cfg.get_int("gate.online.retries", 2, minimum=0, maximum=10),
            concurrency=cfg.get_int("gate.online.concurrency", 8, minimum=1),
            protocol=preset.name, model=model,
            liveness=None if cfg.has("serve.health") or preset.liveness is None
            else preset.liveness,
            metrics_port=(cfg.get_int("serve.metrics_port", minimum=1, maximum=65535)
                          if cfg.has("serve.metrics_port") else None),
            startup_timeout=_startup_timeout(cfg),
            warmup=cfg.get_int("serve.warmup", 0, minimum=0, maximum=1000),
            max_tokens=cfg.get_int("serve.max_tokens", protocols.DEFAULT_MAX_TOKENS,
                                   minimum=1, maximum=100_000))


def _model(cfg: Config, preset: protocols.Preset) -> str | None:
    """serve.model, required when the preset's paths name the model and the user did not
    write those paths."""
    if cfg.has("serve.model"):
        model = cfg.get_str("serve.model").strip()
        if not model:
            raise cfg.error("serve.model", "is empty; expected the name the runtime serves "
                            "the model under")
        return model
    written = {k: cfg.get_str(k, "") for k in ("serve.predict", "serve.health")}
    needed = [p for key, p in (("serve.predict", preset.predict),
                               ("serve.health", preset.health))
              if "{model}" in (written[key] or p)]
    if preset.needs_model and needed:
        raise cfg.error("serve.model", f"missing; serve.protocol {preset.name} needs the "
                        f"model's name for {needed[0]}",
                        hint="set serve.model to the name the runtime serves it under "
                             "(e.g. the model-settings.json name for MLServer)")
    return preset.default_model


def _startup_timeout(cfg: Config) -> float:
    seconds = cfg.get_duration("serve.startup_timeout", protocols.DEFAULT_STARTUP_TIMEOUT)
    if seconds < 1:
        raise cfg.error("serve.startup_timeout", "expected a duration of at least 1s such as "
                        f"20m, got '{cfg.raw('serve.startup_timeout')}'")
    return seconds


def serve_path(value: str) -> str:
    """An HTTP path as serve.health / serve.predict / serve.metrics give it, with the leading
    `/` added when it is left out (`healthz` -> `/healthz`). ValueError for something that is
    not a path: empty, a full URL, or characters that cannot go in a URL unescaped."""
    path = value.strip()
    if not path:
        raise ValueError("is empty; expected a path such as /healthz")
    if "://" in path:
        raise ValueError(f"'{path}' is a URL; expected only its path, such as /healthz")
    if any(c.isspace() or c in "'\"\\<>`{}|^" or ord(c) < 32 for c in path):
        raise ValueError(f"'{path}' is not a URL path (spaces, quotes and the like must be "
                         "percent-encoded)")
    return path if path.startswith("/") else "/" + path


def config_path(cfg: Config, key: str, default: str, model: str | None = None) -> str:
    """serve.health / serve.predict / serve.metrics from the config (or the preset's default),
    `{model}` replaced by serve.model, checked (error names the key)."""
    try:
        return serve_path(protocols.path_for(cfg.get_str(key, default), model))
    except ValueError as e:
        raise cfg.error(key, str(e)) from None


# -- URLs ----------------------------------------------------------------------------------
def predict_url(base_url: str, predict: str) -> str:
    """Where predictions are POSTed: `http://host:8080` (or `http://host:8080/`) + serve.predict;
    a URL with a path of its own (`http://host:8080/v2/classify`) is used as given.
    ValueError when `base_url` is not an http(s) URL."""
    url = base_url.strip()
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as e:
        raise ValueError(f"not a usable URL: {e}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("expected an http(s) URL such as http://host:8080")
    if parts.path not in ("", "/"):
        return url
    return urllib.parse.urlunsplit(parts._replace(path=serve_path(predict)))


def uses_predict_path(base_url: str) -> bool:
    """Whether serve.predict is appended to this URL (it has no path of its own)."""
    return urllib.parse.urlsplit(base_url.strip()).path in ("", "/")


def _userinfo(url: str) -> tuple[str | None, str | None]:
    try:
        parts = urllib.parse.urlsplit(url)
        return parts.username, parts.password
    except ValueError:  # a malformed URL: its use says what is wrong with it
        return None, None


def mask_url(url: str) -> None:
    """Hide the password in a URL's userinfo from every line printed from now on, as written
    and as sent (percent-decoded)."""
    _, password = _userinfo(url)
    if password:
        ghactions.mask(password)
        decoded = urllib.parse.unquote(password)
        if decoded != password:
            ghactions.mask(decoded)


def shown_url(url: str) -> str:
    """A URL as printed and stored: http://user:***@host/x, never the password."""
    user, password = _userinfo(url)
    if user is None and password is None:
        return url
    parts = urllib.parse.urlsplit(url)
    userinfo, _, hostport = parts.netloc.rpartition("@")
    # user:password keeps the user; a lone userinfo is often a token, so it goes entirely
    shown = f"{userinfo.split(':', 1)[0]}:***" if password is not None else "***"
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{shown}@{hostport}"))


