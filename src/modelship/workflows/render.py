"""Render the workflow templates (workflow-templates/*.yml.j2) and the starter modelship.yaml.

Jinja2 with StrictUndefined (a missing value is a bug, not an empty string) and `{= =}` for
values, so GitHub's `${{ }}` expressions pass through as written. Autoescaping is off (this
is YAML, not HTML): every value is validated by modelship.workflows.options before it gets
here, and free text goes through the `q` filter, which writes a quoted YAML scalar.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from modelship.errors import InfraError
from modelship.workflows import pins
from modelship.workflows.options import Options

# Where the templates are: the package's `templates` entry (a link to the repository's
# workflow-templates/ in a checkout and in the action image, real files in a wheel), or
# MODELSHIP_WORKFLOW_TEMPLATES.
_PACKAGED = Path(__file__).resolve().parent / "templates"


@dataclass(frozen=True)
class Workflow:
    template: str  # file in workflow-templates/
    name: str  # file written to .github/workflows/


WORKFLOWS = (
    Workflow("modelship-ci.yml.j2", "modelship-ci.yml"),
    Workflow("modelship-cd.yml.j2", "modelship-cd.yml"),
    Workflow("modelship-release.yml.j2", "modelship-release.yml"),
    Workflow("modelship-rollback.yml.j2", "modelship-rollback.yml"),
    Workflow("modelship-pipeline.yml.j2", "modelship-pipeline.yml"),
)
VERSIONING = Workflow("modelship-versioning.yml.j2", "modelship-versioning.yml")
STARTER_CONFIG = "modelship.yaml.j2"


def templates_dir() -> Path:
    configured = os.environ.get("MODELSHIP_WORKFLOW_TEMPLATES")
    directory = Path(configured) if configured else _PACKAGED
    if not (directory / WORKFLOWS[0].template).is_file():
        msg = (f"workflow templates not found in {directory} (a broken install?); expected "
               f"{WORKFLOWS[0].template} there")
        raise InfraError(msg, hint="set MODELSHIP_WORKFLOW_TEMPLATES to a workflow-templates "
                                   "directory, or reinstall modelship")
    return directory


def _quote(value: object) -> str:
    """A double-quoted YAML scalar (JSON strings are valid YAML)."""
    return json.dumps(str(value))


def environment(directory: Path | None = None) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(directory or templates_dir())),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # noqa: S701  YAML, not HTML; values are validated and quoted
        variable_start_string="{=", variable_end_string="=}",
        comment_start_string="{#%", comment_end_string="%#}",
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
    )
    env.filters["q"] = _quote
    return env


def context(options: Options) -> dict[str, Any]:
    return {
        "registry": options.registry,
        "image": options.image,
        "repository": options.repository,
        "ci_repository": options.ci_repository,
        "ghcr": options.registry == "ghcr.io",
        "model_name": options.model_name,
        "strategy": options.strategy,
        "cluster_auth": options.cluster_auth,
        "oidc": options.cluster_auth != "kubeconfig",
        "gpu": bool(options.gpu_runner),
        "runs_on_build": (json.dumps(list(options.gpu_runner)) if options.gpu_runner
                          else "ubuntu-latest"),
        "runs_on_ci_build": _ci_build_runner(options.gpu_runner),
        "default_branch": options.default_branch,
        "versioning": options.versioning,
        "sign": options.sign,
        "github_repository": options.github_repository or "OWNER/REPO",
        "notify_secrets": list(options.notify_secrets),
        "action": options.action,
        "pins": pins.THIRD_PARTY,
    }


# Code from a fork's pull request must never reach a self-hosted runner: it could persist there.
_FORK_PULL_REQUEST = ("github.event_name == 'pull_request' && "
                      "github.event.pull_request.head.repo.full_name != github.repository")


def _ci_build_runner(labels: tuple[str, ...]) -> str:
    """runs-on of the CI build job: the GPU labels, except for pull requests from forks."""
    if not labels:
        return "ubuntu-latest"
    # labels are letters, digits, '.', '_' and '-' (options.runner_labels): no quoting issues
    return (f"${{{{ {_FORK_PULL_REQUEST} && 'ubuntu-latest' || "
            f"fromJSON('{json.dumps(list(labels))}') }}}}")


def render(options: Options, directory: Path | None = None) -> dict[str, str]:
    """Workflow file name -> rendered text, plus "modelship.yaml" -> the starter config."""
    env = environment(directory)
    values = context(options)
    chosen = [*WORKFLOWS, VERSIONING] if options.versioning else list(WORKFLOWS)
    out = {w.name: tidy(env.get_template(w.template).render(values)) for w in chosen}
    out["modelship.yaml"] = env.get_template(STARTER_CONFIG).render(values)
    return out


_JOB_LEVEL = re.compile(r"^  \S")


def tidy(text: str) -> str:
    """Drop the blank lines conditional blocks leave, then space top-level keys and jobs apart.
    (The templates keep blank lines out of their `run:` scripts for this reason.)"""
    out: list[str] = []
    section = ""
    for line in text.splitlines():
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        if indent == 0 and not line.startswith("#"):
            section = line.split(":", 1)[0]
            if out:
                out.append("")
        elif (section == "jobs" and _JOB_LEVEL.match(line) and out and out[-1] != "jobs:"
              and len(out[-1]) - len(out[-1].lstrip()) > 2):
            out.append("")
        out.append(line)
    return "\n".join(out) + "\n"
