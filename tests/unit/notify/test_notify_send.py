"""Notifications through a REAL HTTP receiver on 127.0.0.1 (tests/support/webhook.py): one
message per event with the right fields, only the events a webhook asked for, and every
failure (HTTP 500, 4xx, connection refused, no answer in time, no variable) a warning line
that never raises. The webhook URL carries a token in its path, as Slack's does: it must appear
in no captured output, inside Actions or not."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from tests.support.webhook import TOKEN, receiver, refused_url

from modelship import console
from modelship.notify import Event, Notifier, Release, send, settings
from modelship.notify.settings import Target

RELEASE = Release("iris", "ns", "staging", "canary", "1.3.0", "r/iris@sha256:" + "a" * 64,
                  "sha256:" + "a" * 64, "1.2.0", "sha256:" + "b" * 64)
STEP = {"name": "canary-10", "weight": 10, "verdict": "passed", "seconds": 3.0}


@pytest.fixture(autouse=True)
def no_secrets_known() -> Iterator[None]:
    """Nothing masked by an earlier test hides a leak here."""
    console.forget_secrets()
    yield
    console.forget_secrets()


def events() -> list[Event]:
    return [Event("started", RELEASE), Event("step-passed", RELEASE, step=STEP),
            Event("paused", RELEASE, step=STEP), Event("promoted", RELEASE),
            Event("aborted", RELEASE, step={**STEP, "verdict": "failed"},
                  checks=({"name": "error_rate vs stable", "value": 0.2},), reason="bad"),
            Event("rolled-back", RELEASE)]


def notifier(url: str, kind: str = "webhook", events: tuple[str, ...] = settings.EVENTS,
             **kw: float) -> Notifier:
    return Notifier([Target(kind, "HOOK_URL", events)], environ={"HOOK_URL": url}, **kw)


def test_one_message_per_event_with_the_release_fields(capfd: pytest.CaptureFixture[str]):
    with receiver() as hook:
        sender = notifier(hook.url)
        for event in events():
            sender.send(event)
        got = hook.bodies
    assert [b["event"] for b in got] == list(settings.EVENTS)
    for body in got:
        assert (body["release"], body["environment"], body["version"], body["digest"]) == (
            "iris", "staging", "1.3.0", "sha256:" + "a" * 64)
    assert got[1]["step"] == STEP
    assert got[4]["checks"] == [{"name": "error_rate vs stable", "value": 0.2}]
    assert hook.posts[0]["path"] == f"/services/{TOKEN}"
    assert hook.posts[0]["headers"]["Content-Type"] == "application/json"
    assert sender.delivered == [("webhook", e) for e in settings.EVENTS]
    out, err = capfd.readouterr()
    assert TOKEN not in out + err
    assert "xoxb" not in out + err


def test_a_check_with_no_value_is_sent_as_null() -> None:
    nan = Event("aborted", RELEASE, checks=({"name": "agreement", "value": float("nan"),
                                            "threshold": float("inf")},))
    with receiver() as hook:
        notifier(hook.url).send(nan)
        (body,) = hook.bodies
    assert body["checks"] == [{"name": "agreement", "value": None, "threshold": None}]


def test_only_the_events_a_webhook_asked_for(capfd: pytest.CaptureFixture[str]):
    with receiver() as hook:
        sender = notifier(hook.url, kind="slack", events=("aborted", "promoted"))
        for event in events():
            sender.send(event)
        got = hook.bodies
    assert [b["text"].split(" ", 1)[0] for b in got] == ["🎉", "🛑"]  # promoted, aborted
    assert all("blocks" in b for b in got)


@pytest.mark.parametrize(("status", "posts"), [
    pytest.param(500, 2, id="5xx-retried-once"),
    pytest.param(404, 1, id="4xx-not-retried"),
])
def test_an_http_error_is_one_warning(capfd: pytest.CaptureFixture[str], status: int,
                                      posts: int):
    with receiver(status=status) as hook:
        sender = notifier(hook.url)
        sender.send(Event("aborted", RELEASE))
        assert len(hook.posts) == posts
    out, err = capfd.readouterr()
    assert f"warning: webhook notification of aborted (HOOK_URL) failed: HTTP {status}" in err
    assert "no_service" in err  # what the service said
    assert sender.delivered == []
    assert TOKEN not in out + err
    assert "127.0.0.1" not in out + err


def test_connection_refused_is_a_warning_without_the_url(capfd: pytest.CaptureFixture[str]):
    url = refused_url()
    sender = notifier(url)
    sender.send(Event("promoted", RELEASE))
    out, err = capfd.readouterr()
    assert "promoted (HOOK_URL) failed: connection refused; the release goes on" in err
    # requests' own message says "...Max retries exceeded with url: /services/<token>..."
    assert TOKEN not in out + err
    assert url not in out + err
    assert "/services/" not in out + err


def test_no_answer_in_time_is_a_warning_after_one_retry(capfd: pytest.CaptureFixture[str]):
    with receiver(delay=1.5) as hook:
        sender = notifier(hook.url, timeout=0.3)
        begun = time.monotonic()
        sender.send(Event("started", RELEASE))
        took = time.monotonic() - begun
        assert len(hook.wait_for(2, timeout=3)) == 2  # the first try and one retry
    assert took < 3  # two short timeouts and the pause, not the receiver's delay
    _, err = capfd.readouterr()
    assert "started (HOOK_URL) failed: no answer within 0.3s" in err
    assert TOKEN not in err


def test_an_unset_variable_is_one_warning_naming_it(capfd: pytest.CaptureFixture[str]):
    sender = Notifier([Target("slack", "SLACK_WEBHOOK_URL")], environ={})
    for event in events():
        sender.send(event)
    _, err = capfd.readouterr()
    assert err.count("warning:") == 1
    assert "slack notifications are off: the environment variable SLACK_WEBHOOK_URL is not " \
           "set" in err


def test_a_variable_that_holds_no_url_is_a_warning_without_its_value(
        capfd: pytest.CaptureFixture[str]):
    sender = Notifier([Target("teams", "TEAMS_HOOK")], environ={"TEAMS_HOOK": "xoxb-not-a-url"})
    sender.send(Event("promoted", RELEASE))
    _, err = capfd.readouterr()
    assert "TEAMS_HOOK does not hold an http(s) URL" in err
    assert "xoxb-not-a-url" not in err


def test_inside_actions_the_url_is_masked_and_shown_only_in_add_mask(
        github: dict[str, object], capfd: pytest.CaptureFixture[str]):
    with receiver(status=503) as hook:
        sender = notifier(hook.url)
        console.info(f"a line that happens to print {hook.url}")
        sender.send(Event("aborted", RELEASE))
    out, err = capfd.readouterr()
    masks = [line for line in err.splitlines() if line.startswith("::add-mask::")]
    assert masks
    assert any(TOKEN in line for line in masks)
    others = [line for line in (out + err).splitlines() if not line.startswith("::add-mask::")]
    assert not [line for line in others if TOKEN in line]
    assert "::warning title=modelship notify::webhook notification of aborted (HOOK_URL) " \
           "failed: HTTP 503" in err
    assert "a line that happens to print ***" in err


def test_scrub_removes_every_piece_of_the_url() -> None:
    url = "https://user:pa55word99@example.org/hooks/abcdefgh?sig=0123456789"
    text = ("POST https://user:pa55word99@example.org/hooks/abcdefgh?sig=0123456789 and "
            "url: /hooks/abcdefgh?sig=0123456789, path /hooks/abcdefgh, sig=0123456789, "
            "pa55word99")
    scrubbed = send.scrub(text, url)
    for piece in ("abcdefgh", "0123456789", "pa55word99"):
        assert piece not in scrubbed
    assert "example.org" not in scrubbed.split("POST ", 1)[1].split(" and")[0]
