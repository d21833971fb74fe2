"""One release event -> the JSON body each kind of webhook takes. Pure.

- webhook: the event as a documented JSON object (`document`; README "Notifications").
- slack: an incoming-webhook message: `text` (the fallback notifications show) and blocks.
- teams: a message with one Adaptive Card attachment, the body Teams' Workflows webhooks and
  its incoming webhooks both accept.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from modelship import __version__

SCHEMA = "modelship.notify/v1"  # the generic webhook document's `schema` field
MAX_CHECKS = 10  # checks listed in a chat message (all of them in the webhook document)
MAX_REASON = 500
ICONS = {"started": "🚀", "step-passed": "✅", "paused": "⏸️", "promoted": "🎉",
         "aborted": "🛑", "rolled-back": "↩️"}
COLOURS = {"aborted": "attention", "rolled-back": "warning", "paused": "warning",
           "promoted": "good"}  # Adaptive Card text colours


@dataclass(frozen=True)
class Release:
    """The release an event is about."""

    release: str
    namespace: str
    environment: str | None
    strategy: str
    version: str | None  # the version going out (rolled back to, for rolled-back)
    image: str | None
    digest: str | None
    previous_version: str | None = None  # what served before
    previous_digest: str | None = None


@dataclass(frozen=True)
class Event:
    name: str  # settings.EVENTS
    release: Release
    step: Mapping[str, Any] | None = None  # {"name", "weight", "verdict", "seconds"}
    checks: Sequence[Mapping[str, Any]] = ()  # aborted: the rejecting checks and values
    reason: str = ""
    revision: int | None = None
    run_url: str | None = None
    at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))


def headline(event: Event) -> str:
    """One line: `iris (production): 1.2.0 aborted at canary-10`."""
    r = event.release
    where = r.environment or r.namespace
    what = {"started": f"release of {r.version} started ({r.strategy})",
            "step-passed": f"{r.version} passed {_step(event)}",
            "paused": f"{r.version} paused" + (f" after {_step(event)}" if event.step else ""),
            "promoted": f"{r.version} promoted to 100%",
            "aborted": f"{r.version} aborted" + (f" at {_step(event)}" if event.step else ""),
            "rolled-back": f"rolled back to {r.version}"}.get(event.name, event.name)
    return f"{r.release} ({where}): {what}"


def _step(event: Event) -> str:
    step = event.step or {}
    weight = step.get("weight")
    return f"{step.get('name')}" + (f" ({weight}%)" if isinstance(weight, int) else "")


def check_line(check: Mapping[str, Any]) -> str:
    """`error_rate: 0.12 (canary 0.12, stable 0.01; e-value 150 >= 100)`."""
    text = f"{check.get('name')}: {_number(check.get('value'))}"
    detail = check.get("detail")
    return f"{text} ({detail})" if detail else text


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "no value" if value is None else str(value)


def facts(event: Event) -> list[tuple[str, str]]:
    """(name, value) pairs the chat messages show, in order; empty ones left out."""
    r = event.release
    previous = r.previous_version or r.previous_digest
    pairs = [("Release", f"{r.release} ({r.namespace})"), ("Environment", r.environment),
             ("Version", r.version), ("Digest", r.digest), ("Strategy", r.strategy),
             ("Step", _step(event) if event.step else None),
             ("Previous", f"{r.previous_version or '-'} ({r.previous_digest or '-'})"
              if previous else None),
             ("Revision", str(event.revision) if event.revision else None)]
    return [(name, str(value)) for name, value in pairs if value]


def document(event: Event) -> dict[str, Any]:
    """The generic webhook's JSON object (every field documented in the README)."""
    r = event.release
    return {
        "schema": SCHEMA, "event": event.name, "text": headline(event),
        "release": r.release, "namespace": r.namespace, "environment": r.environment,
        "strategy": r.strategy, "version": r.version, "image": r.image, "digest": r.digest,
        "previous": ({"version": r.previous_version, "digest": r.previous_digest}
                     if r.previous_version or r.previous_digest else None),
        "step": dict(event.step) if event.step else None,
        "checks": [dict(c) for c in event.checks], "reason": event.reason or None,
        "revision": event.revision, "run_url": event.run_url, "at": event.at,
        "modelship": __version__,
    }


def _details(event: Event) -> list[str]:
    lines = [check_line(c) for c in event.checks[:MAX_CHECKS]]
    if len(event.checks) > MAX_CHECKS:
        lines.append(f"... and {len(event.checks) - MAX_CHECKS} more")
    return lines


def _reason(event: Event) -> str:
    reason = event.reason.strip()
    return reason if len(reason) <= MAX_REASON else reason[:MAX_REASON - 3] + "..."


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack(event: Event) -> dict[str, Any]:
    title = f"{ICONS.get(event.name, '')} {headline(event)}".strip()
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{_slack_escape(title)}*"}},
        {"type": "section", "fields": [
            {"type": "mrkdwn", "text": f"*{name}*\n{_slack_escape(value)}"}
            for name, value in facts(event)[:10]]}]  # Slack takes at most 10 fields
    text = "\n".join([*(f"• {_slack_escape(line)}" for line in _details(event)),
                      _slack_escape(_reason(event))]).strip()
    if text:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
    if event.run_url:
        blocks.append({"type": "context", "elements": [
            {"type": "mrkdwn", "text": f"<{event.run_url}|workflow run>"}]})
    return {"text": title, "blocks": blocks}


def teams(event: Event) -> dict[str, Any]:
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": headline(event), "weight": "Bolder", "size": "Medium",
         "wrap": True, "color": COLOURS.get(event.name, "default")},
        {"type": "FactSet", "facts": [{"title": n, "value": v} for n, v in facts(event)]}]
    body += [{"type": "TextBlock", "text": f"- {line}", "wrap": True, "spacing": "None"}
             for line in _details(event)]
    if event.reason:
        body.append({"type": "TextBlock", "text": _reason(event), "wrap": True,
                     "isSubtle": True})
    card: dict[str, Any] = {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                            "type": "AdaptiveCard", "version": "1.2", "body": body}
    if event.run_url:
        card["actions"] = [{"type": "Action.OpenUrl", "title": "Workflow run",
                            "url": event.run_url}]
    return {"type": "message", "summary": headline(event), "attachments": [
        {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None,
         "content": card}]}


BUILDERS: dict[str, Callable[[Event], dict[str, Any]]] = {
    "slack": slack, "teams": teams, "webhook": document}


def payload(kind: str, event: Event) -> dict[str, Any]:
    body: dict[str, Any] = json_safe(BUILDERS[kind](event))
    return body


def json_safe(value: Any) -> Any:
    """NaN and infinities (a check with no value) as null: JSON has no such numbers."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value
