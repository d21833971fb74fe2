"""Sends each release event to the webhooks that want it, and never fails a release.

Each webhook's URL is read from its environment variable once and masked at once (the whole
URL and the parts that carry its token), before anything could print it. A variable that is
unset, a URL that is not http(s), a webhook that refuses, times out or answers 4xx/5xx: each
is one warning line (`::warning::` in Actions) naming the variable, never the URL, and the
release's outcome and exit code stay what they were.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from modelship import console, ghactions
from modelship.config import Config
from modelship.notify import messages, send, settings
from modelship.notify.messages import Event
from modelship.notify.settings import Target

TITLE = "modelship notify"


class Notifier:
    def __init__(self, targets: Sequence[Target] = (), *,
                 environ: Mapping[str, str] | None = None,
                 timeout: float = send.TIMEOUT) -> None:
        self.targets = tuple(targets)
        self.timeout = timeout
        self.delivered: list[tuple[str, str]] = []  # (kind, event) this process sent
        self._urls: dict[str, str | None] = {}
        self._warned: set[str] = set()
        environ = os.environ if environ is None else environ
        for target in self.targets:  # masked now: before any line could show them
            url = environ.get(target.url_env, "").strip()
            self._urls[target.url_env] = url or None
            for piece in send.secret_parts(url) if url else ():
                ghactions.mask(piece)

    def __bool__(self) -> bool:
        return bool(self.targets)

    def send(self, event: Event) -> None:
        """Tell every webhook that wants this event; problems are warnings, never errors."""
        for target in self.targets:
            if not target.wants(event.name):
                continue
            url = self._url(target)
            if url is None:
                continue
            try:
                body = messages.payload(target.kind, event)
                sent = send.post(url, body, timeout=self.timeout)
            except Exception as e:  # a notification must never end a release
                sent = send.Sent(False, f"internal error ({type(e).__name__})", 1)
            if sent.ok:
                self.delivered.append((target.kind, event.name))
                console.info(f"notified {target.kind} ({target.url_env}): {event.name}")
            else:
                ghactions.warning(console.redact(send.scrub(
                    f"{target.kind} notification of {event.name} ({target.url_env}) failed: "
                    f"{sent.detail}; the release goes on", url)), title=TITLE)

    def _url(self, target: Target) -> str | None:
        """The target's URL, or None after one warning saying why there is none."""
        url = self._urls.get(target.url_env)
        problem = None
        if url is None:
            problem = (f"the environment variable {target.url_env} is not set (pass the "
                       f"secret in the step's env:)")
        elif not url.lower().startswith(("https://", "http://")):
            problem = f"{target.url_env} does not hold an http(s) URL"
        if problem is None:
            return url
        if target.url_env not in self._warned:
            self._warned.add(target.url_env)
            ghactions.warning(f"{target.kind} notifications are off: {problem}", title=TITLE)
        return None


def from_config(cfg: Config) -> Notifier:
    """The config's webhooks (exit 2 for a bad `notify:`), their URLs masked."""
    return Notifier(settings.load(cfg))
