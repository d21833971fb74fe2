"""`notify:` in modelship.yaml: the entries read with their defaults, and every mistake refused
with exit 2 naming the file and the key (a "did you mean" for a near miss), both when the file
loads (the schema) and for a Config built in code (notify.settings). A webhook URL written
where the name of its variable belongs is refused without being echoed."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelship import cli, config, schema
from modelship.config import Config
from modelship.errors import ConfigError
from modelship.notify import settings

URL = "https://hooks.slack.com/services/T0SECRET/B0SECRET/xoxbSeCrEtT0kEn4242"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "modelship.yaml"
    path.write_text(text)
    return path


def test_the_design_example_reads_as_written(tmp_path: Path) -> None:
    cfg = config.load(write(tmp_path, "notify:\n  - {kind: slack, url_env: SLACK_WEBHOOK_URL, "
                                      "events: [aborted, promoted, rolled-back]}\n"))
    assert settings.load(cfg) == (
        settings.Target("slack", "SLACK_WEBHOOK_URL", ("aborted", "promoted", "rolled-back")),)


def test_defaults_every_event_and_the_kinds_usual_variable(tmp_path: Path) -> None:
    cfg = config.load(write(tmp_path, "notify:\n  - kind: teams\n  - kind: webhook\n"
                                      "    url_env: DEPLOY_HOOK\n"))
    teams, hook = settings.load(cfg)
    assert (teams.url_env, teams.events) == ("TEAMS_WEBHOOK_URL", settings.EVENTS)
    assert (hook.url_env, hook.events) == ("DEPLOY_HOOK", settings.EVENTS)
    assert settings.load(Config({})) == ()


def test_the_schema_knows_the_same_kinds_and_events_as_the_code() -> None:
    item = schema.schema()["properties"]["notify"]["items"]["properties"]
    assert tuple(item["kind"]["enum"]) == settings.KINDS
    assert tuple(item["events"]["items"]["enum"]) == settings.EVENTS
    assert sorted(schema.schema()["properties"]["notify"]["items"]["properties"]) == sorted(
        settings.KEYS)


MISTAKES = [
    pytest.param("notify:\n  - {kind: slak, url_env: X}\n", "notify[0].kind",
                 ["expected one of slack, teams, webhook", "did you mean 'slack'?"], id="kind"),
    pytest.param("notify:\n  - {kind: slack, evnts: [aborted]}\n", "notify[0].evnts",
                 ["unknown key", "did you mean 'events'?"], id="key"),
    pytest.param("notify:\n  - {kind: slack, events: [aborted, step_passed]}\n",
                 "notify[0].events[1]", ["expected one of started, step-passed",
                                         "did you mean 'step-passed'?"], id="event"),
    pytest.param("notify:\n  - {url_env: X}\n", "notify[0]", ["kind"], id="no-kind"),
    pytest.param("notify:\n  - {kind: slack, events: []}\n", "notify[0].events",
                 ["non-empty list"], id="no-events"),
    pytest.param("notify: {kind: slack}\n", "notify", ["expected a list"], id="not-a-list"),
    pytest.param(f"notify:\n  - {{kind: slack, url_env: \"{URL}\"}}\n", "notify[0].url_env",
                 ["name of an environment variable", "not shown"], id="url-instead-of-name"),
]


@pytest.mark.parametrize(("text", "key", "expected"), MISTAKES)
def test_the_cli_exits_2_naming_file_and_key(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                             text: str, key: str, expected: list[str]) -> None:
    path = write(tmp_path, text)
    assert cli.main(["deploy", "--config", str(path), "--json"]) == 2
    out, err = capsys.readouterr()
    assert f"{path}:2: {key}" in err or f"{path}:1: {key}" in err, err
    for part in expected:
        assert part in err
    assert "Traceback" not in err
    assert "xoxbSeCrEt" not in out + err


@pytest.mark.parametrize(("data", "key", "expected"), [
    pytest.param({"notify": [{"kind": "slak"}]}, "notify[0].kind", "did you mean 'slack'?",
                 id="kind"),
    pytest.param({"notify": [{"kind": "slack", "evnts": []}]}, "notify[0].evnts",
                 "did you mean 'events'?", id="key"),
    pytest.param({"notify": [{"kind": "teams", "events": ["rolledback"]}]},
                 "notify[0].events[0]", "did you mean 'rolled-back'?", id="event"),
    pytest.param({"notify": [{"kind": "slack", "url_env": URL}]}, "notify[0].url_env",
                 "got a URL (not shown)", id="url"),
    pytest.param({"notify": [{"kind": "webhook", "url_env": "not a name"}]},
                 "notify[0].url_env", "name of an environment variable", id="bad-name"),
    pytest.param({"notify": [{"kind": "slack", "events": "aborted"}]}, "notify[0].events",
                 "expected a list", id="events-not-a-list"),
    pytest.param({"notify": ["slack"]}, "notify[0]", "expected a mapping", id="entry"),
])
def test_the_code_refuses_the_same_mistakes(data: dict[str, object], key: str,
                                            expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        settings.load(Config(data, file="modelship.yaml"))
    assert caught.value.key == key
    assert caught.value.exit_code == 2
    assert expected in str(caught.value)
    assert "xoxbSeCrEt" not in str(caught.value)
