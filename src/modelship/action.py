"""The GitHub Action's runtime: inputs become `modelship` arguments and environment variables,
secrets are masked before anything can print them, and modelship.cli.main does the rest.

entrypoint.py (the container's entry point) only calls main(). Inputs never pass through a
shell: `args` is split like a shell would split it, every other input is one argument.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from modelship import cli, console, ghactions, imageref
from modelship.errors import EXIT_USAGE, UsageError

DEFAULT_CONFIG = "modelship.yaml"
RELEASE_COMMANDS = frozenset({"deploy", "promote", "abort", "rollback", "status", "version"})

# input -> (CLI flag, commands that take it)
FLAG_INPUTS: dict[str, tuple[str, frozenset[str]]] = {
    "environment": ("--environment", RELEASE_COMMANDS),
    "image": ("--image", frozenset({"deploy"})),
    "strategy": ("--strategy", frozenset({"deploy"})),
    "to": ("--to", frozenset({"rollback"})),
}
REGISTRY_INPUTS = (("registry-username", "MODELSHIP_REGISTRY_USER", False),
                   ("registry-password", "MODELSHIP_REGISTRY_PASSWORD", True))
# kubeconfig keys whose values are credentials (users[].user, auth-provider config, exec env)
_SECRET_KEY = re.compile(r"token|password|secret|key|client-certificate-data", re.IGNORECASE)


def arguments() -> list[str]:
    command = ghactions.get_input("command", "doctor")
    argv = [command]
    config = ghactions.get_input("config", DEFAULT_CONFIG)
    # the default file may be absent (a command that needs no config); a chosen one must exist
    if config != DEFAULT_CONFIG or Path(config).exists():
        argv += ["--config", config]
    for name, (flag, commands) in FLAG_INPUTS.items():
        value = ghactions.get_input(name)
        if not value:
            continue
        if command not in commands:
            msg = (f"input {name}: `{command}` does not take it; it is for "
                   f"{', '.join(sorted(commands))}")
            raise UsageError(msg)
        if name == "image":
            imageref.check(value, "input image")
        argv.append(f"{flag}={value}")  # one argument, even if the value starts with '-'
    try:
        extra = shlex.split(ghactions.get_input("args"))
    except ValueError as e:  # unbalanced quotes
        msg = f"input args: {e}; expected arguments as on a command line"
        raise UsageError(msg) from e
    return argv + extra


def export_registry_credentials() -> None:
    for name, variable, secret in REGISTRY_INPUTS:
        value = ghactions.get_input(name)
        if value:
            if secret:
                ghactions.mask(value)
            os.environ[variable] = value


def _secret_values(node: Any) -> Iterator[str]:
    """Credential values in a parsed kubeconfig (tokens, keys, passwords), at any depth."""
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(value, str) and _SECRET_KEY.search(str(key)):
                yield value
            else:
                yield from _secret_values(value)
    elif isinstance(node, list):
        for item in node:
            yield from _secret_values(item)


def mask_kubeconfig(text: str) -> None:
    """Hide the credentials in a kubeconfig from every log line. The whole text is registered
    with our redaction too; GitHub masks line by line, so lines are masked only when they
    carry a credential (masking `apiVersion: v1` would shred every log)."""
    console.register_secret(text)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        # the parser's message would quote the (secret) text: say only where to look
        msg = "input kubeconfig: not valid YAML; expected the content of a kubeconfig file"
        raise UsageError(msg) from None
    if not isinstance(data, dict):
        msg = "input kubeconfig: expected the content of a kubeconfig file (a YAML mapping)"
        raise UsageError(msg)
    for value in _secret_values(data):
        ghactions.mask(value)


@contextlib.contextmanager
def cluster_credentials(workspace: Path) -> Iterator[None]:
    """KUBECONFIG for the command: the `kubeconfig` input written to a private temp file
    (mode 0600, removed afterwards), or the `kubeconfig-file` input (a path in the workspace,
    since the container cannot see the runner's other paths)."""
    content = ghactions.get_input("kubeconfig")
    path_input = ghactions.get_input("kubeconfig-file")
    if content and path_input:
        msg = "inputs kubeconfig and kubeconfig-file: give one, not both"
        raise UsageError(msg)
    if path_input:
        path = (workspace / path_input).resolve()
        if not path.is_file():
            msg = (f"input kubeconfig-file: '{path_input}' is not a file in the workspace; "
                   "expected a kubeconfig written by an earlier step")
            raise UsageError(msg)
        os.environ["KUBECONFIG"] = str(path)
        yield
        return
    if not content:
        yield
        return
    mask_kubeconfig(content)
    fd, name = tempfile.mkstemp(prefix="modelship-kubeconfig-")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(content if content.endswith("\n") else content + "\n")
        os.environ["KUBECONFIG"] = name
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(name)


def main() -> int:
    try:
        export_registry_credentials()
        workspace = Path.cwd()
        workdir = ghactions.get_input("working-directory", ".")
        try:
            os.chdir(workdir)
        except OSError as e:
            msg = f"input working-directory: cannot enter '{workdir}': {e.strerror}"
            raise UsageError(msg) from e
        argv = arguments()
        with cluster_credentials(workspace):
            return cli.main(argv)
    except UsageError as e:
        ghactions.error(str(e), title="modelship action")
        return EXIT_USAGE
