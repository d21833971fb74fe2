"""The body each kind of webhook gets for a release event: Slack's incoming-webhook message
(`text` and blocks), Teams' Adaptive Card message, and the generic webhook's documented JSON
object. Pure: no network."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from modelship.notify import messages
from modelship.notify.messages import Event, Release

REPO = Path(__file__).resolve().parents[3]
DIGEST = "sha256:" + "ab" * 32
RELEASE = Release("iris", "prod-ns", "production", "canary", "1.3.0",
                  f"registry.example.com/iris@{DIGEST}", DIGEST, "1.2.0", "sha256:" + "cd" * 32)
RUN = "https://github.com/acme/iris/actions/runs/42"
CHECKS = ({"name": "error_rate vs stable", "source": "judge", "value": 0.125,
           "canary": 0.125, "stable": 0.01, "statistic": 3.1e6, "threshold": 100.0,
           "detail": "canary 12.50% errors; stable 1.00%; e-value 3.1e+06 >= 100"},
          {"name": "accuracy", "source": "probes", "value": 0.8, "op": ">=",
           "threshold": 0.93, "detail": "needs >= 0.93"})
ABORTED = Event("aborted", RELEASE, step={"name": "canary-10", "weight": 10,
                                          "verdict": "failed", "seconds": 12.5},
                checks=CHECKS, reason="canary-10: traffic: error_rate vs stable: e-value ...",
                revision=7, run_url=RUN)
PASSED = Event("step-passed", RELEASE, step={"name": "canary-50", "weight": 50,
                                             "verdict": "passed", "seconds": 30.0},
               reason="traffic: 400 canary requests", run_url=RUN)


def test_the_webhook_document_has_the_documented_fields() -> None:
    doc = messages.document(ABORTED)
    readme = (REPO / "README.md").read_text()
    section = readme.split("### Notifications", 1)[1].split("\n### ", 1)[0]
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", section, re.M))
    assert set(doc) == documented
    assert doc["event"] == "aborted"
    assert doc["schema"] == messages.SCHEMA
    assert (doc["release"], doc["environment"], doc["version"], doc["digest"]) == (
        "iris", "production", "1.3.0", DIGEST)
    assert doc["previous"] == {"version": "1.2.0", "digest": "sha256:" + "cd" * 32}
    assert [c["name"] for c in doc["checks"]] == ["error_rate vs stable", "accuracy"]
    assert doc["checks"][0]["value"] == 0.125
    assert doc["step"]["name"] == "canary-10"
    assert doc["run_url"] == RUN
    json.dumps(doc)  # JSON all the way down


def test_slack_message_names_the_rejecting_checks_and_links_the_run() -> None:
    body = messages.slack(ABORTED)
    assert body["text"].startswith("🛑 iris (production): 1.3.0 aborted at canary-10 (10%)")
    shown = json.dumps(body, ensure_ascii=False)
    assert "error_rate vs stable: 0.125 (canary 12.50% errors" in shown
    assert "accuracy: 0.8 (needs &gt;= 0.93)" in shown  # Slack escapes >
    assert DIGEST in shown
    assert {"type": "mrkdwn", "text": f"<{RUN}|workflow run>"} in body["blocks"][-1]["elements"]
    fields = body["blocks"][1]["fields"]
    assert len(fields) <= 10  # Slack's limit per section


def test_slack_escapes_its_control_characters() -> None:
    odd = Event("aborted", RELEASE, reason="p95 > 300 & <script>")
    shown = json.dumps(messages.slack(odd))
    assert "&gt; 300 &amp; &lt;script&gt;" in shown
    assert "<script>" not in shown


def test_teams_gets_an_adaptive_card_message() -> None:
    body = messages.teams(PASSED)
    assert body["type"] == "message"
    (attachment,) = body["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard"
    assert card["version"]
    assert card["body"][0]["text"] == "iris (production): 1.3.0 passed canary-50 (50%)"
    facts = {f["title"]: f["value"] for f in card["body"][1]["facts"]}
    assert facts["Step"] == "canary-50 (50%)"
    assert facts["Digest"] == DIGEST
    assert facts["Version"] == "1.3.0"
    assert card["actions"] == [{"type": "Action.OpenUrl", "title": "Workflow run", "url": RUN}]


@pytest.mark.parametrize(("name", "expected"), [
    ("started", "iris (production): release of 1.3.0 started (canary)"),
    ("paused", "iris (production): 1.3.0 paused"),
    ("promoted", "iris (production): 1.3.0 promoted to 100%"),
    ("rolled-back", "iris (production): rolled back to 1.3.0"),
])
def test_every_event_has_a_headline(name: str, expected: str) -> None:
    event = Event(name, RELEASE)
    assert messages.headline(event) == expected
    for kind in ("slack", "teams", "webhook"):
        assert expected in json.dumps(messages.payload(kind, event), ensure_ascii=False)


def test_a_long_list_of_checks_is_cut_in_chat_but_whole_in_the_document() -> None:
    many = tuple({"name": f"check-{i}", "value": i} for i in range(15))
    event = Event("aborted", RELEASE, checks=many)
    assert "... and 5 more" in json.dumps(messages.slack(event))
    assert len(messages.document(event)["checks"]) == 15
