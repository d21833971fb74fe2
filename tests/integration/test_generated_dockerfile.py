"""The generated Dockerfile's virtual environment, built by the real engine: on a base whose pip
can install into another interpreter (pip >= 22.3, the test bed's python stand-in) the venv is
made without pip and the base's pip fills it; on a base with an older pip (as Ubuntu 22.04's,
which CUDA runtime images get) the venv gets its own pip. Either way the requirements are
importable from the venv's python and nowhere else. One tiny requirement keeps both builds fast.
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


@pytest.fixture(scope="module")
def old_pip_base(docker_client: Any) -> str:
    """The python stand-in with pip downgraded to 22.0.2 (built once, then cached)."""
    dockerfile = ("FROM python:3.11-slim-bookworm\nCOPY ca.crt /tmp/ca.crt\n"
                  f"RUN PIP_CERT=/tmp/ca.crt python3 -m pip install --no-cache-dir "
                  f"--disable-pip-version-check pip=={OLD_PIP} && rm /tmp/ca.crt\n")
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        for name, data in (("Dockerfile", dockerfile.encode()), ("ca.crt", CA.read_bytes())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    context.seek(0)
    docker_client.images.build(fileobj=context, custom_context=True, tag=OLD_PIP_BASE,
                               network_mode="host", rm=True, pull=False)
    return OLD_PIP_BASE


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


def test_an_old_pip_gives_the_venv_its_own(docker_client, tmp_path, monkeypatch, capsys,
                                           old_pip_base):
    config = _project(tmp_path / "old", old_pip_base)
    probe, log = _build_and_probe(config, docker_client, monkeypatch, capsys)
    assert probe == {"prefix": "/opt/venv", "found": True, "venv_pip": True}
    assert "Successfully installed prometheus" in log
