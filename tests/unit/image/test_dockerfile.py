"""The generated Dockerfile: layer order (dependencies, weights, code), non-root user, health
check, command, and the CA bundle only in the install step."""

from __future__ import annotations

import json

import pytest

from modelship.image import dockerfile as df

TOP = ["requirements.txt", "model", "server.py", "model.py", "eval", "README.md",
       "Dockerfile", ".dockerignore", "classifier.onnx"]
DIRS = {"model", "eval"}


def _render(**overrides) -> str:
    requirements, weights, code = df.classify(TOP, is_dir=DIRS)
    spec = df.Spec(base_image="python:3.11-slim-bookworm", command=["python", "server.py"],
                   requirements=requirements, weights=weights, code=code)
    for key, value in overrides.items():
        setattr(spec, key, value)
    return df.render(spec, directories=DIRS)


def test_classify_splits_requirements_weights_and_code():
    requirements, weights, code = df.classify(TOP, is_dir=DIRS)
    assert requirements == ["requirements.txt"]
    assert weights == ["classifier.onnx", "model"]
    assert code == ["README.md", "eval", "model.py", "server.py"]


def test_classify_with_configured_weights():
    _, weights, code = df.classify(TOP, weights=["./eval/", "assets/x.bin"],
                                   is_dir=DIRS)
    assert weights == ["eval"]
    assert "model" in code
    assert "classifier.onnx" in code


def _index(lines: list[str], needle: str) -> int:
    return next(i for i, line in enumerate(lines) if needle in line)


def test_layer_order_dependencies_then_weights_then_code():
    lines = _render().splitlines()
    instructions = [line for line in lines if line and not line.startswith(("#", " "))]
    assert instructions[0] == "FROM python:3.11-slim-bookworm"
    deps = _index(lines, 'COPY ["requirements.txt"')
    install = _index(lines, "pip install -r /app/requirements.txt")
    weights = _index(lines, 'COPY ["model", "/app/model/"]')
    onnx = _index(lines, '"classifier.onnx"')
    code = _index(lines, '"server.py", "/app/"]')
    assert deps < install < weights < code
    assert install < onnx < code
    # the code COPY carries no weights or requirements: a code change leaves them cached
    code_lines = [line for line in lines[max(weights, onnx) + 1:] if line.startswith("COPY")]
    assert code_lines
    assert not any('"model"' in line or "requirements" in line or "onnx" in line
                   for line in code_lines)
    assert not any(line.startswith("COPY") and '"."' in line for line in lines)
    assert "Dockerfile" not in "".join(line for line in lines if line.startswith("COPY"))


def test_non_root_user_health_check_and_command():
    text = _render(port=9000, health="/ready", command=["python", "-m", "app"])
    lines = text.splitlines()
    assert "USER 10001" in lines
    # after the last RUN (installs run as root), before weights and code (cached on a change)
    last_run = max(i for i, line in enumerate(lines) if line.startswith("RUN "))
    assert last_run < _index(lines, "USER 10001") < _index(lines, 'COPY ["model"')
    health = next(line for line in lines if line.strip().startswith("CMD [\"python\", \"-c\""))
    assert "http://127.0.0.1:9000/ready" in health
    assert 'CMD ["python", "-m", "app"]' in lines
    assert lines[-1].startswith("COPY ")  # the code layer is the last
    assert "EXPOSE 9000" in lines
    assert "    PORT=9000" in lines  # in the one ENV instruction before the dependencies
    assert "HEALTHCHECK" in text


@pytest.mark.parametrize("overrides", [
    pytest.param({}, id="cpu"),
    pytest.param({"base_image": "nvidia/cuda:12.4.1-runtime-ubuntu22.04", "nvidia": True},
                 id="nvidia"),
    pytest.param({"command": ["uvicorn", "app:app", "--port", "8080"]}, id="other-command"),
])
def test_stop_signal_is_one_python_honours_as_pid_1(overrides):
    """SIGTERM is ignored by a PID 1 without a handler; Python always handles SIGINT. One
    STOPSIGNAL, in the final stage, whatever the command (a pod's `command:` keeps it)."""
    lines = _render(**overrides).splitlines()
    stops = [line for line in lines if line.startswith("STOPSIGNAL")]
    assert stops == ["STOPSIGNAL SIGINT"]
    assert _index(lines, "FROM") < _index(lines, "STOPSIGNAL") < len(lines) - 1
    assert sum(line.startswith("CMD [") for line in lines) == 1
    assert not any(line.startswith("ENTRYPOINT") for line in lines)


def test_health_path_without_a_leading_slash_gets_one():
    text = _render(port=9000, health="ready")
    assert "http://127.0.0.1:9000/ready'" in text
    assert "9000ready" not in text


def test_ca_bundle_is_used_only_for_the_install_step():
    without = _render()
    assert "ca.crt" not in without
    with_ca = _render(ca_bundle=True)
    lines = with_ca.splitlines()
    copy = _index(lines, df.CA_IN_CONTEXT)
    # the bundle rides in the requirement files' COPY (no step of its own)
    assert lines[copy] == ('COPY ["requirements.txt", ".modelship-build/modelship-ca.crt", '
                           '"/app/"]')
    assert lines[copy + 1].startswith("RUN ")
    run = "\n".join(lines[copy + 1:_index(lines, "# 2. serving settings")])
    assert "PIP_CERT=/app/modelship-ca.crt PYTHONPATH=/opt/venv/.base-pip " in run
    assert "-m pip install -r /app/requirements.txt" in run
    assert run.rstrip().endswith("\n    && rm -f /app/modelship-ca.crt")
    assert "PIP_CERT" not in "".join(line for line in lines if line.startswith("ENV"))


def _instructions(text: str) -> list[str]:
    return [line.split()[0] for line in text.splitlines()
            if line and not line.startswith(("#", " "))]


def test_python_base_makes_its_venv_in_the_install_step_without_bootstrapping_pip():
    """Every build step costs a container and a commit, and bootstrapping pip into the venv
    (ensurepip) cost more than the rest of the system setup: on an official python image the
    base's own pip, linked alone, installs into a pip-less venv, in the one RUN that installs
    the requirements."""
    text = _render()
    assert _instructions(text) == ["FROM", "ENV", "WORKDIR", "COPY", "RUN", "EXPOSE", "USER",
                                   "STOPSIGNAL", "HEALTHCHECK", "CMD", "COPY", "COPY", "COPY",
                                   "COPY"]
    assert '"$base" -m venv --without-pip /opt/venv' in text
    assert 'ln -s "$pip_dir" /opt/venv/.base-pip/pip' in text
    # a base without pip gives the venv its own, as before
    assert '[ -e /opt/venv/.base-pip/pip ] || { rm -rf /opt/venv/.base-pip && "$base" -m venv ' \
        "/opt/venv; }" in text
    assert "PYTHONPATH=/opt/venv/.base-pip /opt/venv/bin/python -m pip install -r " \
        "/app/requirements.txt" in text
    assert text.index("-m venv --without-pip") < text.index("pip install -r")
    assert "PYTHONPATH" not in "".join(line for line in text.splitlines()
                                       if line.startswith("ENV"))


def test_a_base_without_python_keeps_the_system_step_before_the_dependencies():
    """A CUDA runtime image needs Python installed: that step stays cached when only the
    requirements change."""
    text = _render(base_image="nvidia/cuda:12.4.1-runtime-ubuntu22.04", nvidia=True)
    assert _instructions(text)[:6] == ["FROM", "ENV", "RUN", "WORKDIR", "COPY", "RUN"]
    lines = text.splitlines()
    assert _index(lines, "apt-get install") < _index(lines, "WORKDIR") < \
        _index(lines, "pip install")
    # outside the official images the base's pip must prove it runs from the venv
    assert "PYTHONPATH=/opt/venv/.base-pip /opt/venv/bin/python -m pip --version" in text


@pytest.mark.parametrize(("base", "official"), [
    ("python:3.11-slim-bookworm", True), ("docker.io/library/python:3.12", True),
    ("python@sha256:" + "0" * 64, True), ("ghcr.io/org/python:3.11", False),
    ("nvidia/cuda:12.4.1-runtime-ubuntu22.04", False), ("mypython:1", False),
])
def test_official_python_image_names(base, official):
    assert df._is_python_image(base) is official


def test_no_requirements_means_no_install_step():
    spec = df.Spec(base_image="python:3.11-slim", command=["python", "app.py"],
                   code=["app.py"])
    text = df.render(spec)
    assert "pip install" not in text
    assert 'COPY ["app.py", "/app/"]' in text


def test_nvidia_profile_declares_build_args_and_installs_python_only_when_missing():
    text = _render(base_image="nvidia/cuda:12.4.1-runtime-ubuntu22.04", nvidia=True,
                   build_args=["CUDA_VERSION", "TORCH_CUDA_ARCH_LIST"])
    lines = text.splitlines()
    assert lines[_index(lines, "FROM")] == "FROM nvidia/cuda:12.4.1-runtime-ubuntu22.04"
    assert "ARG TORCH_CUDA_ARCH_LIST" in lines
    assert "ARG CUDA_VERSION" in lines
    assert "NVIDIA_VISIBLE_DEVICES=all" in text
    assert "if ! command -v python3" in text
    assert "devel" not in text


@pytest.mark.parametrize(
    ("top", "expected"),
    [
        pytest.param(["server.py", "app.py"], ["python", "server.py"], id="server-first"),
        pytest.param(["main.py"], ["python", "main.py"], id="main"),
        pytest.param(["lib.py"], None, id="none"),
    ],
)
def test_default_command(top, expected):
    assert df.default_command(top) == expected


def test_env_values_are_quoted_when_needed():
    text = _render(env={"GREETING": "hello world", "MODE": "fast"})
    lines = text.splitlines()
    # one ENV instruction after the code layers: serve.env changes rebuild no dependencies
    at = _index(lines, f"ENV GREETING={json.dumps('hello world')} \\")
    assert lines[at + 1] == "    MODE=fast"
    assert _index(lines, "pip install") < at < _index(lines, 'COPY ["model"')
