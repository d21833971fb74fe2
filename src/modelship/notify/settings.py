"""`notify:` in modelship.yaml -> the webhooks to tell about release events.

    notify:
      - {kind: slack, url_env: SLACK_WEBHOOK_URL, events: [aborted, promoted, rolled-back]}

`url_env` names the environment variable that holds the webhook URL (a repository secret in a
workflow): the URL itself never sits in the file, where anyone who can read the repository
could post to the channel. The schema refuses most mistakes when the file is loaded; these
checks repeat them for a Config built in code, and word the URL-instead-of-a-name case
without echoing the URL.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from modelship.config import Config, suggest
from modelship.schema import kind as _kind

KINDS = ("slack", "teams", "webhook")
EVENTS = ("started", "step-passed", "paused", "promoted", "aborted", "rolled-back")
KEYS = ("kind", "url_env", "events")
# the variable read when an entry names none: the name each service's docs suggest
DEFAULT_URL_ENV = {"slack": "SLACK_WEBHOOK_URL", "teams": "TEAMS_WEBHOOK_URL",
                   "webhook": "MODELSHIP_WEBHOOK_URL"}
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_URL_LIKE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://|^www\.|hooks\.|webhook\.office", re.I)


@dataclass(frozen=True)
class Target:
    """One webhook: its kind, the variable holding its URL, the events it wants."""

    kind: str
    url_env: str
    events: tuple[str, ...] = EVENTS

    def wants(self, event: str) -> bool:
        return event in self.events


def load(cfg: Config) -> tuple[Target, ...]:
    """The `notify:` entries; () when there are none. Exit 2 (ConfigError) naming the key."""
    entries = cfg.raw("notify", [])
    if not isinstance(entries, list):
        raise cfg.error("notify", f"expected a list of {{kind, url_env, events}}, got "
                                  f"{_kind(entries)}")
    return tuple(_target(cfg, f"notify[{i}]", entry) for i, entry in enumerate(entries))


def _target(cfg: Config, key: str, entry: object) -> Target:
    if not isinstance(entry, Mapping):
        raise cfg.error(key, f"expected a mapping {{kind, url_env, events}}, got {_kind(entry)}")
    for name in entry:
        if name not in KEYS:
            raise cfg.error(f"{key}.{name}", f"unknown key; expected one of {', '.join(KEYS)}",
                            hint=suggest(str(name), KEYS))
    kind = entry.get("kind")
    if kind not in KINDS:
        if kind is None:
            raise cfg.error(f"{key}.kind", f"missing required key; expected one of "
                                           f"{', '.join(KINDS)}")
        raise cfg.error(f"{key}.kind", f"unknown kind {_kind(kind)}; expected one of "
                                       f"{', '.join(KINDS)}", hint=suggest(str(kind), KINDS))
    url_env = entry.get("url_env") or DEFAULT_URL_ENV[str(kind)]
    check_url_env(cfg, f"{key}.url_env", url_env)
    return Target(str(kind), str(url_env), _events(cfg, f"{key}.events", entry.get("events")))


def check_url_env(cfg: Config, key: str, value: object) -> None:
    """The NAME of an environment variable; a URL written here is refused without echoing it
    (it may carry the webhook's token)."""
    if isinstance(value, str) and ENV_NAME.match(value):
        return
    if isinstance(value, str) and _URL_LIKE.search(value):
        raise cfg.error(key, "expected the name of an environment variable holding the "
                             "webhook URL, got a URL (not shown)",
                        hint="store the URL as a secret (e.g. SLACK_WEBHOOK_URL), pass it to "
                             "the step's env:, and write its name here")
    raise cfg.error(key, f"expected the name of an environment variable holding the webhook "
                         f"URL, got {_kind(value)}")


def _events(cfg: Config, key: str, value: object) -> tuple[str, ...]:
    if value is None:
        return EVENTS
    names = value
    if not isinstance(names, list) or not names:
        raise cfg.error(key, f"expected a list of events ({', '.join(EVENTS)}), got "
                             f"{_kind(value)}")
    for i, name in enumerate(names):
        if name not in EVENTS:
            raise cfg.error(f"{key}[{i}]", f"unknown event {_kind(name)}; expected one of "
                                           f"{', '.join(EVENTS)}",
                            hint=suggest(str(name), EVENTS))
    return tuple(dict.fromkeys(names))
