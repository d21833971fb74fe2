"""The generated Dockerfile (used when the project has none). Pure: takes what is in the build
context and returns Dockerfile text.

Layers, least to most often changed, so that a code change rebuilds and pushes only the last:
  1. system and dependencies: a Python virtual environment, an unprivileged user, the
     requirement files, then `pip install` (the system setup is a step of its own on a base
     that may need Python installed)
  2. serving settings: port, user, stop signal, health check, command (no layers, but each is a
     build step: placed here they stay cached when weights or code change)
  3. model weights
  4. code (everything else the context holds)
The legacy builder (the docker SDK's) runs every instruction as a container and a commit, so
the file has as few as the layer split allows. The health check and the command come from the
`serve:` config; the stop signal is SIGINT (see STOP_SIGNAL). The legacy builder has no
`RUN --mount`, so when the build machine points PIP_CERT (or SSL_CERT_FILE) at a CA bundle, that
bundle travels with the requirement files for the install step only: it is no ENV setting, the
step deletes it, and what stays in its COPY layer is a public trust store, never a secret.
Nothing else from the build machine enters the image; without such a bundle (the usual case
online) the Dockerfile has no CA lines at all.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from modelship.serving import serve_path

APP = "/app"
VENV = "/opt/venv"
UID = 10001
CA_IN_CONTEXT = ".modelship-build/modelship-ca.crt"
ENTRY_POINTS = ("server.py", "serve.py", "app.py", "main.py")
REQUIREMENT_FILE = re.compile(r"^(requirements|constraints)[\w.-]*\.(txt|in)$")
WEIGHT_DIRS = ("model", "models", "weights", "checkpoints", "artifacts")
WEIGHT_SUFFIXES = (".safetensors", ".pt", ".pth", ".bin", ".onnx", ".ckpt", ".h5", ".gguf",
                   ".pkl", ".joblib", ".npz", ".pb", ".tflite")
NEVER_COPY = ("Dockerfile", ".dockerignore", ".git", ".modelship-build")

# Stop with SIGINT, not the SIGTERM that `docker stop` and Kubernetes send by default. The server
# is PID 1 in its container, and the kernel drops a signal PID 1 has no handler for: most model
# servers install none for SIGTERM, so every stop would wait out the grace period (10 s for
# `docker stop`, 30 s for a pod) and end in SIGKILL. The Python interpreter always handles
# SIGINT (KeyboardInterrupt), so a server stops at once and runs its `finally` blocks; uvicorn
# and hypercorn treat SIGINT like SIGTERM (gunicorn stops without draining). A minimal
# init (tini) would cover non-Python servers too, but it is a package every image must install
# and an ENTRYPOINT that a pod's `command:` replaces; STOPSIGNAL is image config that Docker,
# containerd and CRI-O honour whatever command runs.
STOP_SIGNAL = "SIGINT"
STOP_SIGNAL_LINES = (
    "# Python handles SIGINT even as PID 1 (KeyboardInterrupt); SIGTERM without a handler in",
    "# the server would be ignored until the grace period ends in SIGKILL.",
    f"STOPSIGNAL {STOP_SIGNAL}",
)


@dataclass
class Spec:
    base_image: str
    command: list[str]
    port: int = 8080
    health: str = "/healthz"
    requirements: list[str] = field(default_factory=list)  # context-relative files
    weights: list[str] = field(default_factory=list)  # context-relative files or directories
    code: list[str] = field(default_factory=list)  # top-level context entries
    env: dict[str, str] = field(default_factory=dict)
    build_args: list[str] = field(default_factory=list)  # ARG names (e.g. TORCH_CUDA_ARCH_LIST)
    nvidia: bool = False
    ca_bundle: bool = False


def classify(top_level: Iterable[str], *, weights: Sequence[str] | None = None,
             is_dir: Iterable[str] = ()) -> tuple[list[str], list[str], list[str]]:
    """Split a context's top-level entries into (requirement files, weights, code).
    `weights` (from config) overrides the conventional names; `is_dir` names directories."""
    dirs = set(is_dir)
    requirements, found_weights, code = [], [], []
    # config names weights by path; a nested path makes its top-level directory the weights
    chosen = {_norm(w).split("/")[0] for w in weights} if weights is not None else None
    for name in sorted(top_level):
        if name in NEVER_COPY:
            continue
        if chosen is not None:
            is_weights = name in chosen
        elif name in dirs:
            is_weights = name in WEIGHT_DIRS
        else:
            is_weights = name.endswith(WEIGHT_SUFFIXES)
        if is_weights:
            found_weights.append(name)
        elif name not in dirs and REQUIREMENT_FILE.match(name):
            requirements.append(name)
        else:
            code.append(name)
    return requirements, found_weights, code


def _norm(path: str) -> str:
    return posixpath.normpath(path).lstrip("/")


def default_command(top_level: Iterable[str]) -> list[str] | None:
    names = set(top_level)
    for entry in ENTRY_POINTS:
        if entry in names:
            return ["python", entry]
    return None


def _copy_files(paths: Sequence[str]) -> list[str]:
    """COPY lines for files, grouped by their directory so each keeps its place under /app."""
    by_parent: dict[str, list[str]] = {}
    for path in paths:
        by_parent.setdefault(posixpath.dirname(path), []).append(path)
    return ["COPY " + json.dumps([*group, f"{APP}/{parent}/" if parent else f"{APP}/"])
            for parent, group in by_parent.items()]


def render(spec: Spec, *, directories: Iterable[str] = ()) -> str:
    """The Dockerfile text. `directories` names which of the paths are directories (each gets a
    COPY of its own so it keeps its name inside /app)."""
    dirs = set(directories)

    def copy_lines(paths: Sequence[str]) -> list[str]:
        out = [f'COPY {json.dumps([p, f"{APP}/{p}/"])}' for p in paths if p in dirs]
        files = [p for p in paths if p not in dirs]
        return out + (_copy_files(files) if files else [])

    lines = [
        "# Generated by `modelship build` (no Dockerfile in the project). Layers go from least",
        "# to most often changed: system, dependencies, serving settings, weights, code.",
        f"FROM {spec.base_image}",
        *(f"ARG {name}" for name in spec.build_args),
        _env_line(spec),
    ]
    # An official python image has Python and pip: its system setup rides with the install
    # step (one build step less). Elsewhere (a CUDA runtime image has no Python) it is a step
    # of its own, so a requirements change does not reinstall Python.
    merged = bool(spec.requirements) and _is_python_image(spec.base_image)
    if not merged:
        lines.append("RUN " + " \\\n    && ".join(_system_setup(check_pip=True)))
    lines += [f"WORKDIR {APP}", "", "# 1. dependencies"]
    lines += _dependency_lines(spec, copy_lines, merged)
    lines += ["", *_serving_lines(spec)]
    lines += ["", "# 3. model weights"]
    lines += copy_lines(spec.weights) if spec.weights else ["# (none found)"]
    lines += ["", "# 4. code"]
    lines += copy_lines(spec.code) if spec.code else ["# (none)"]
    return "\n".join([*lines, ""])


def _serving_lines(spec: Spec) -> list[str]:
    """Image settings, after the last RUN (USER: the installs run as root) and before the
    weights and code: each instruction is a build step, and here a code change leaves them
    cached (COPY writes files as root whatever USER says; the process runs as UID)."""
    health = serve_path(spec.health)
    lines = ["# 2. serving settings (change rarely: cached when weights or code change)"]
    if spec.env:
        lines.append("ENV " + " \\\n    ".join(f"{k}={_quote(str(v))}"
                                               for k, v in spec.env.items()))
    return [
        *lines,
        f"EXPOSE {spec.port}",
        f"USER {UID}",
        *STOP_SIGNAL_LINES,
        "HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \\",
        "    CMD " + json.dumps(["python", "-c",
                                  "import sys, urllib.request; sys.exit(0 if urllib.request."
                                  f"urlopen('http://127.0.0.1:{spec.port}{health}', "
                                  "timeout=2).status < 400 else 1)"]),
        "CMD " + json.dumps(spec.command),
    ]


# The system setup, one shell command per item. CUDA runtime images ship no Python: it is
# installed only when missing (`base` is the image's python3, found before the venv's bin
# directory, first on PATH, exists). The virtual environment is made WITHOUT pip: bootstrapping
# pip into it (ensurepip) cost more than all the rest of a cold build beyond a plain
# `pip install`. The base's own pip package, linked alone into a directory of its own
# (BASE_PIP), runs in the venv's interpreter and installs into the venv: only pip is shared,
# so the base's other packages (setuptools, wheel) are not taken as installed. A base without
# pip, or (checked outside the official python images) whose pip cannot run from the venv,
# gives the venv its own pip as before.
BASE_PIP = f"{VENV}/.base-pip"
_PIP_DIR = "import os, pip; print(os.path.dirname(pip.__file__))"


def _system_setup(*, check_pip: bool) -> list[str]:
    fallback = f'"$base" -m venv {VENV}'
    usable = (f"PYTHONPATH={BASE_PIP} {VENV}/bin/python -m pip --version >/dev/null 2>&1"
              if check_pip else f"[ -e {BASE_PIP}/pip ]")
    return [
        "if ! command -v python3 >/dev/null 2>&1; then \\\n"
        "        apt-get update \\\n"
        "        && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \\\n"
        "           python3 python3-venv python3-pip ca-certificates \\\n"
        "        && rm -rf /var/lib/apt/lists/*; \\\n"
        "    fi",
        'base="$(command -v python3)"',
        f'"$base" -m venv --without-pip {VENV}',
        f"if pip_dir=\"$(\"$base\" -c '{_PIP_DIR}' 2>/dev/null)\"; then \\\n"
        f'        mkdir {BASE_PIP} && ln -s "$pip_dir" {BASE_PIP}/pip; fi',
        f"{{ {usable} || {{ rm -rf {BASE_PIP} && {fallback}; }}; }}",
        f"(useradd --uid {UID} --create-home --shell /usr/sbin/nologin model \\\n"
        f"        || adduser -D -u {UID} model)",
    ]


def _env_line(spec: Spec) -> str:
    env = {
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "PIP_NO_CACHE_DIR": "1",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "VIRTUAL_ENV": VENV,
        "PATH": f"{VENV}/bin:$PATH",
        "PORT": str(spec.port),  # here, not a step of its own: each build step costs time
    }
    if spec.nvidia:
        env["NVIDIA_VISIBLE_DEVICES"] = "all"
        env["NVIDIA_DRIVER_CAPABILITIES"] = "compute,utility"
    return "ENV " + " \\\n    ".join(f"{k}={_quote(v)}" for k, v in env.items())


def _dependency_lines(spec: Spec, copy_lines: Callable[[Sequence[str]], list[str]],
                      merged: bool) -> list[str]:
    """The requirement files (with the CA bundle in the same COPY), then one RUN: the system
    setup when `merged`, and `pip install`."""
    if not spec.requirements:
        return ["# (no requirements file: the standard library only)"]
    copies = copy_lines(spec.requirements)
    main_req = "requirements.txt" if "requirements.txt" in spec.requirements else \
        spec.requirements[0]
    # the venv's python runs pip: the base's (BASE_PIP) or, after a fallback, its own
    install = f"PYTHONPATH={BASE_PIP} {VENV}/bin/python -m pip install -r {APP}/{main_req}"
    if spec.ca_bundle:
        ca = f"{APP}/{posixpath.basename(CA_IN_CONTEXT)}"
        # the requirement files are top-level files: their one COPY takes the bundle along
        copies[-1] = copies[-1].replace(f'"{APP}/"]', f'"{CA_IN_CONTEXT}", "{APP}/"]')
        install = f"PIP_CERT={ca} {install} \\\n    && rm -f {ca}"
    steps = [*_system_setup(check_pip=False), install] if merged else [install]
    return [*copies, "RUN " + " \\\n    && ".join(steps)]


def _is_python_image(base_image: str) -> bool:
    """An official python image (python:TAG, docker.io/library/python:TAG): Python and pip."""
    name = base_image.split("@", 1)[0].rsplit(":", 1)[0]
    return name in ("python", "library/python", "docker.io/library/python",
                    "index.docker.io/library/python")


def _quote(value: str) -> str:
    return value if re.fullmatch(r"[\w./:$,=-]+", value) else json.dumps(value)


# -- labels ------------------------------------------------------------------------------------
# The engine's build API turns each label it is given into a build step of its own (a container
# and a commit each, on every build: `created` changes every time). Written into the Dockerfile
# as one LABEL instruction at the end they cost one step. Only what needs no quoting rules is
# written so (no quote, backslash, backtick, `$` or line break: the Dockerfile would expand `$`);
# anything else, or a Dockerfile whose last line continues or which sets its own escape
# character, keeps the API's way.
_LITERAL = re.compile(r'^[^"\\`$\r\n]+$')
_ESCAPE_DIRECTIVE = re.compile(r"^#\s*escape\s*=", re.I)


def fold_labels(text: str, labels: dict[str, str]) -> tuple[str, dict[str, str]]:
    """(the Dockerfile with one LABEL instruction appended, the labels left for the API)."""
    lines = [line for line in text.splitlines() if line.strip()]
    directives = [line for line in lines[:5] if line.startswith("#")]
    if not lines or lines[-1].rstrip().endswith("\\") or \
            any(_ESCAPE_DIRECTIVE.match(line) for line in directives):
        return text, dict(labels)
    folded = {k: v for k, v in labels.items() if _LITERAL.match(k) and
              (v == "" or _LITERAL.match(v))}
    if not folded:
        return text, dict(labels)
    pairs = " \\\n    ".join(f'"{k}"="{v}"' for k, v in sorted(folded.items()))
    labelled = (f"{text.rstrip()}\n\n# labels (modelship build): one step, not one per label\n"
                f"LABEL {pairs}\n")
    return labelled, {k: v for k, v in labels.items() if k not in folded}
