"""POST one JSON body to one webhook: a short timeout, at most one retry, and the outcome
described without the URL.

A webhook URL is a credential: Slack and Teams keep the token in its path (and Teams in its
query), and requests' exception texts name the host and the path ("... Max retries exceeded
with url: /services/T0/B0/XXXX ..."). So a failure is described by what kind it was
(connection refused, timed out, HTTP 500), never by the exception's text, and anything taken
from the answer is scrubbed of every piece of the URL (`scrub`) before anyone sees it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

from modelship import __version__, console

TIMEOUT = 5.0  # seconds to connect and to read the answer: a chat service answers in less
ATTEMPTS = 2  # one retry, for a dropped connection or a 5xx; a 4xx will not change
RETRY_PAUSE = 0.5
# phrases in a connection error's text -> what is shown instead of the text (which has the URL)
_CONNECTION_PROBLEMS = (
    ("refused", "connection refused"),
    ("name or service not known", "host name not found"),
    ("nodename nor servname", "host name not found"),
    ("getaddrinfo", "host name not found"),
    ("name resolution", "host name not found"),
    ("certificate", "TLS certificate not trusted"),
    ("ssl", "TLS handshake failed"),
    ("reset by peer", "connection reset"),
    ("remotedisconnected", "connection closed without an answer"),
    ("aborted", "connection closed without an answer"),
    ("unreachable", "network unreachable"),
)
_PRINTABLE = re.compile(r"[^ -~]+")


@dataclass(frozen=True)
class Sent:
    ok: bool
    detail: str  # "HTTP 200", "HTTP 500: no_service", "connection refused", ...
    attempts: int


def post(url: str, body: dict[str, Any], *, timeout: float = TIMEOUT,
         attempts: int = ATTEMPTS) -> Sent:
    detail = "not sent"
    for attempt in range(1, max(attempts, 1) + 1):
        if attempt > 1:
            time.sleep(RETRY_PAUSE)
        try:
            answer = requests.post(url, json=body, timeout=timeout, allow_redirects=False,
                                   headers={"User-Agent": f"modelship/{__version__}"})
        except requests.Timeout:
            detail = f"no answer within {timeout:g}s"
            continue
        except requests.ConnectionError as e:
            detail = connection_problem(e)
            continue
        except requests.RequestException as e:  # an invalid URL: trying again cannot help
            return Sent(False, f"the URL was refused ({type(e).__name__})", attempt)
        if answer.status_code < 300:
            return Sent(True, f"HTTP {answer.status_code}", attempt)
        detail = scrub(f"HTTP {answer.status_code}{_excerpt(answer)}", url)
        if answer.status_code < 500 and answer.status_code != 429:
            return Sent(False, detail, attempt)
    return Sent(False, detail, max(attempts, 1))


def connection_problem(error: BaseException) -> str:
    """A fixed phrase for a connection failure, found in its text (never the text itself)."""
    text = f"{error!r} {error}".lower()
    for needle, shown in _CONNECTION_PROBLEMS:
        if needle in text:
            return shown
    return "could not connect"


def _excerpt(answer: requests.Response) -> str:
    """The start of an error answer (Slack says why: `invalid_token`, `no_service`)."""
    try:
        text = answer.text
    except (requests.RequestException, UnicodeError, LookupError):
        return ""
    text = _PRINTABLE.sub(" ", text).strip()[:80]
    return f": {text}" if text else ""


def secret_parts(url: str) -> Iterator[str]:
    """The pieces of a webhook URL that may carry its token, longest first: the URL, its path
    and query, the query alone, the password. The host alone is not secret (and masking it
    would hide every other line naming it)."""
    yield url
    try:
        parts = urlsplit(url)
    except ValueError:
        return
    tail = parts.path + (f"?{parts.query}" if parts.query else "")
    for piece in (tail, parts.path, parts.query, parts.password or ""):
        if len(piece) >= 8:  # "/", "/hook": too short to be a token, too common to hide
            yield piece


def scrub(text: str, url: str) -> str:
    for piece in sorted(set(secret_parts(url)), key=len, reverse=True):
        text = text.replace(piece, console.REDACTED)
    return text
