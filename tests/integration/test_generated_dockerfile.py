"""The generated Dockerfile's virtual environment, built by the real engine. The venv is made
without pip and the base image's pip package, linked alone, installs into it: on the test bed's
python stand-in (an official image's name), on a base with Ubuntu 22.04's older pip (which CUDA
runtime images get, checked to run from the venv since the name is not an official image's),
and a base without pip gives the venv its own pip, as before. Every way, the requirement is
importable from the venv's python and not from the base's. One tiny requirement keeps the
builds fast.
"""

from __future__ import annotations

import io
import json
import tarfile
import uuid
from pathlib import Path
from typing import Any

import pytest

from modelship import cli

pytestmark = pytest.mark.integration

CA = Path("/etc/ssl/certs/ca-certificates.crt")
OLD_PIP = "22.0.2"  # Ubuntu 22.04's python3-pip: no `pip --python`
OLD_PIP_BASE = f"modelship-it/old-pip-base:{OLD_PIP}"
REQUIREMENT = "prometheus-client==0.21.1"  # pure Python, already in the example's lock
PROBE = ("import importlib.util, json, os, sys; print(json.dumps({'prefix': sys.prefix, "
         "'found': importlib.util.find_spec('prometheus_client') is not None, "
         "'venv_pip': os.path.exists('/opt/venv/bin/pip')}))")


def _derived_base(docker_client: Any, tag: str, run: str, files: dict[str, bytes]) -> str:
    """A base made from the python stand-in by one RUN (built once, then cached)."""
    dockerfile = f"FROM python:3.11-slim-bookworm\nCOPY . /tmp/ctx/\nRUN {run}\n"
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        for name, data in {"Dockerfile": dockerfile.encode(), **files}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    context.seek(0)
    docker_client.images.build(fileobj=context, custom_context=True, tag=tag,
                               network_mode="host", rm=True, pull=False)
    return tag


@pytest.fixture(scope="module")
def old_pip_base(docker_client: Any) -> str:
    """The python stand-in with pip downgraded to Ubuntu 22.04's 22.0.2."""
    return _derived_base(
        docker_client, OLD_PIP_BASE,
        "PIP_CERT=/tmp/ctx/ca.crt python3 -m pip install --no-cache-dir "
        f"--disable-pip-version-check pip=={OLD_PIP} && rm -rf /tmp/ctx",
        {"ca.crt": CA.read_bytes()})


@pytest.fixture(scope="module")
def pipless_base(docker_client: Any) -> str:
    """The python stand-in without a pip package (its ensurepip wheels stay)."""
    return _derived_base(docker_client, "modelship-it/pipless-base:1",
                         "rm -rf /usr/lib/python3/dist-packages/pip /tmp/ctx "
                         "&& ! python3 -c 'import pip'", {})


def _project(root: Path, base: str) -> Path:
    root.mkdir(parents=True)
    (root / "requirements.txt").write_text(REQUIREMENT + "\n")
    (root / "server.py").write_text("print('not served in this test')\n")
    (root / "modelship.yaml").write_text(
        f"model:\n  name: venv-check\nimage:\n  accelerator: cpu\n  base_image: {base}\n"
        'serve:\n  command: ["python", "server.py"]\n')
    return root / "modelship.yaml"


def _build_and_probe(config: Path, docker_client: Any, monkeypatch: pytest.MonkeyPatch,
                     capsys: pytest.CaptureFixture[str]) -> tuple[dict[str, Any], str]:
    monkeypatch.setenv("PIP_CERT", str(CA))
    for name in ("GITHUB_ACTIONS", "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY"):
        monkeypatch.delenv(name, raising=False)
    repo = f"modelship-it/venv-check-{uuid.uuid4().hex[:6]}"
    code = cli.main(["build", "--config", str(config), "--no-smoke", "--json",
                     "--repository", repo])
    out, err = capsys.readouterr()
    assert code == 0, err[-3000:]
    image = json.loads(out.strip().splitlines()[-1])["image_id"]
    try:
        raw = docker_client.containers.run(image, ["python", "-c", PROBE], remove=True)
        # the base interpreter's own site-packages stay clean: only the venv has it
        base = docker_client.containers.run(image, ["/usr/bin/python3", "-c", PROBE],
                                            remove=True)
        assert json.loads(base)["found"] is False
        return json.loads(raw), err
    finally:
        docker_client.images.remove(image, force=True)


def test_a_modern_pip_fills_a_venv_made_without_pip(docker_client, tmp_path, monkeypatch,
                                                    capsys, testbed_env):
    config = _project(tmp_path / "modern", "python:3.11-slim-bookworm")
    probe, log = _build_and_probe(config, docker_client, monkeypatch, capsys)
    assert probe == {"prefix": "/opt/venv", "found": True, "venv_pip": False}
    assert "Successfully installed prometheus" in log


def test_an_old_pip_from_the_base_fills_the_venv_too(docker_client, tmp_path, monkeypatch,
                                                    capsys, old_pip_base):
    config = _project(tmp_path / "old", old_pip_base)
    probe, log = _build_and_probe(config, docker_client, monkeypatch, capsys)
    assert probe == {"prefix": "/opt/venv", "found": True, "venv_pip": False}
    assert "Successfully installed prometheus" in log


def test_a_base_without_pip_gives_the_venv_its_own(docker_client, tmp_path, monkeypatch,
                                                   capsys, pipless_base):
    config = _project(tmp_path / "pipless", pipless_base)
    probe, log = _build_and_probe(config, docker_client, monkeypatch, capsys)
    assert probe == {"prefix": "/opt/venv", "found": True, "venv_pip": True}
    assert "Successfully installed prometheus" in log
