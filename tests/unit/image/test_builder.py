"""Build-stream parsing, push retries and the context tar, with fake engine APIs (no Docker)."""

from __future__ import annotations

import io
import tarfile

import pytest

from modelship.errors import EXIT_INFRA, EXIT_USAGE
from modelship.image import builder, context


class FakeAPI:
    def __init__(self, build_events=(), push_runs=()):
        self.build_events = list(build_events)
        self.push_runs = list(push_runs)
        self.pushes = 0

    def build(self, **_kwargs):
        return iter(self.build_events)

    def push(self, *_args, **_kwargs):
        self.pushes += 1
        run = self.push_runs.pop(0)
        if isinstance(run, Exception):
            raise run
        return iter(run)


def _build(events):
    return builder.build(FakeAPI(events), io.BytesIO(b""), dockerfile="Dockerfile", tag="t:1",
                         labels={}, buildargs={}, cache_from=[], network_mode="host")


def test_build_reports_image_and_cached_steps(capsys):
    result = _build([
        {"stream": "Step 1/2 : FROM python:3.11-slim\n"},
        {"stream": " ---> abc\n"},
        {"stream": "Step 2/2 : RUN pip install x\n"},
        {"stream": " ---> Using cache\n"},
        {"aux": {"ID": "sha256:feed"}},
        {"stream": "Successfully built feed\n"},
    ])
    assert result.image_id == "sha256:feed"
    assert (result.steps, result.cached_steps) == (2, 1)
    assert "Step 2/2 : RUN pip install x" in capsys.readouterr().err


def test_failing_step_is_named_with_its_last_lines():
    events = [{"stream": "Step 1/2 : FROM python:3.11-slim\n"},
              {"stream": "Step 2/2 : RUN make\n"}]
    events += [{"stream": f"line {i}\n"} for i in range(40)]
    events.append({"error": "The command '/bin/sh -c make' returned a non-zero code: 2",
                   "errorDetail": {"message": "The command '/bin/sh -c make' returned a "
                                              "non-zero code: 2"}})
    with pytest.raises(builder.BuildFailed) as caught:
        _build(events)
    text = str(caught.value)
    assert caught.value.exit_code == EXIT_USAGE
    assert "failed at Step 2/2 : RUN make" in text
    assert "line 39" in text
    assert "line 19" not in text  # only the last 20 lines
    assert "non-zero code: 2" in text


def test_unreachable_package_index_is_an_infrastructure_error():
    events = [{"stream": "Step 1/1 : RUN pip install numpy\n"},
              {"stream": "WARNING: Retrying ... Temporary failure in name resolution\n"},
              {"error": "The command returned a non-zero code: 1"}]
    with pytest.raises(builder.BuildInfraFailed) as caught:
        _build(events)
    assert caught.value.exit_code == EXIT_INFRA


PUSHED = [{"status": "Preparing", "id": "l1"},
          {"status": "Pushing", "id": "l1", "progressDetail": {"current": 10, "total": 100}},
          {"status": "Pushed", "id": "l1"},
          {"status": "Layer already exists", "id": "l2"},
          {"aux": {"Tag": "1", "Digest": "sha256:" + "b" * 64, "Size": 525}}]


def test_push_retries_transient_errors():
    api = FakeAPI(push_runs=[ConnectionError("connection reset"),
                             [{"error": "blob upload unknown"}], PUSHED])
    result = builder.push(api, "r/x", "1", None, backoff=0)
    assert api.pushes == 3
    assert result.attempts == 3
    assert result.digest == "sha256:" + "b" * 64
    assert (result.layers_pushed, result.layers_existing, result.bytes_pushed) == (1, 1, 100)


def test_push_does_not_retry_refused_credentials():
    api = FakeAPI(push_runs=[[{"error": "unauthorized: authentication required"}], PUSHED])
    with pytest.raises(builder.InfraError) as caught:
        builder.push(api, "r/x", "1", None, backoff=0)
    assert api.pushes == 1
    assert "refused" in str(caught.value)


def test_push_gives_up_after_the_attempts():
    api = FakeAPI(push_runs=[ConnectionError("down")] * 3)
    with pytest.raises(builder.InfraError) as caught:
        builder.push(api, "r/x", "1", None, backoff=0)
    assert "after 3 attempts" in str(caught.value)


def test_context_honours_dockerignore_and_dereferences_symlinks(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "server.py").write_text("print('shared')\n")
    (shared / "weights").mkdir()
    (shared / "weights" / "w.json").write_text("{}")
    project = tmp_path / "project"
    project.mkdir()
    (project / "server.py").symlink_to(shared / "server.py")
    (project / "model").symlink_to(shared / "weights")
    (project / "data").mkdir()
    (project / "data" / "train.csv").write_text("x\n")
    (project / ".git").mkdir()
    (project / ".git" / "HEAD").write_text("ref\n")
    (project / ".modelship").mkdir()  # a gate report handed on by the gate job: not content
    (project / ".modelship" / "gate-report.json").write_text("{}\n")
    (project / ".dockerignore").write_text("# comment\ndata/\n")
    ctx = context.scan(project, skip_git=True)
    assert ctx.files == [".dockerignore", "server.py", "model/w.json"]
    assert ctx.directories == {"model"}
    with context.archive(ctx, {".modelship-build/Dockerfile": b"FROM x\n"}) as fileobj, \
            tarfile.open(fileobj=fileobj) as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert members["server.py"].isfile()  # a file, not a dangling link
        assert tar.extractfile("server.py").read() == b"print('shared')\n"
        assert members["model/w.json"].isfile()
        assert tar.extractfile(".modelship-build/Dockerfile").read() == b"FROM x\n"


class FakeLogin:
    def __init__(self, errors):
        self.errors = list(errors)
        self.calls = 0

    def login(self, **_kwargs):
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return {"Status": "Login Succeeded"}


def test_login_retries_an_unreachable_registry():
    api = FakeLogin([ConnectionError("connection refused")])
    builder.login(api, "r:5000", "u", "p", backoff=0)
    assert api.calls == 2


def test_login_refused_is_not_retried():
    api = FakeLogin([RuntimeError("401 Client Error: Unauthorized")])
    with pytest.raises(builder.InfraError, match="refused the credentials"):
        builder.login(api, "r:5000", "u", "p", backoff=0)
    assert api.calls == 1
