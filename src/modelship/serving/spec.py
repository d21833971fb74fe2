"""The serve contract's settings and URLs: `ServeSpec` (serve.* and gate.online.*), serve.*
paths, joining a base URL with serve.predict, and URLs shown without their password."""

from __future__ import annotations

import contextlib
import json
import urllib.parse
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from modelship import ghactions

if TYPE_CHECKING:
    from modelship.config import Config

# A JSON value as the request template, a row's fields and an answer hold it. `Any` on purpose:
# bodies and answers are whatever the model server defines.
JSON = Any


@dataclass(frozen=True)
class ServeSpec:
    """How to talk to the model server: `serve.*` (where) and `gate.online.*` (what to send,
    where the answer is, how hard to try)."""

    predict: str = "/predict"
    health: str = "/healthz"
    metrics: str | None = "/metrics"  # None: the server has no metrics endpoint
    port: int = 8080
    request: JSON = None  # body template; None: the row minus `reference`
    response_field: str = "prediction"  # dotted path in the answer; "": the whole answer
    timeout: float = 30.0  # seconds per attempt
    retries: int = 2  # extra attempts after a connection error, timeout, 429 or 5xx
    backoff: float = 0.2  # seconds before the first retry, doubling each time (at most 5 s)
    concurrency: int = 8

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
        metrics = cfg.get_str("serve.metrics", "/metrics")
        return cls(
            predict=config_path(cfg, "serve.predict", "/predict"),
            health=config_path(cfg, "serve.health", "/healthz"),
            metrics=config_path(cfg, "serve.metrics", "/metrics") if metrics.strip() else None,
            port=cfg.get_int("serve.port", 8080, minimum=1, maximum=65535),
            request=request,
            response_field=cfg.get_str("gate.online.response_field", "prediction"),
            timeout=timeout,
            retries=cfg.get_int("gate.online.retries", 2, minimum=0, maximum=10),
            concurrency=cfg.get_int("gate.online.concurrency", 8, minimum=1))


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


def config_path(cfg: Config, key: str, default: str) -> str:
    """serve.health / serve.predict / serve.metrics from the config, checked (error names the
    key)."""
    try:
        return serve_path(cfg.get_str(key, default))
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


