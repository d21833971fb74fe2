"""Checks every rendered workflow must pass (STYLE.md's workflow-template conventions), shared
by the unit tests and the linter tests."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import yaml

PINNED = re.compile(r"^[A-Za-z0-9-]+/[A-Za-z0-9._-]+(?:/[A-Za-z0-9._/-]+)?@[0-9a-f]{40}$")
# an expression inside a script is the injection: anything untrusted must come through env
EXPRESSION = re.compile(r"\$\{\{")


def load(text: str) -> dict[str, Any]:
    data = yaml.safe_load(text)
    # YAML 1.1 reads the `on:` key as True
    if True in data:
        data["on"] = data.pop(True)
    return data


def steps(workflow: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for job_id, job in workflow["jobs"].items():
        for step in job.get("steps", []):
            yield job_id, step


def violations(name: str, text: str) -> list[str]:
    """What breaks a convention in one rendered workflow ([] when none)."""
    wf = load(text)
    found: list[str] = []
    lines = text.splitlines()
    if not lines[0].startswith("# "):
        found.append(f"{name}: does not open with a comment saying what it does")
    if wf.get("permissions") != {"contents": "read"}:
        found.append(f"{name}: top-level permissions are not `contents: read`")
    for job_id, job in wf["jobs"].items():
        if "uses" in job:  # a call to a reusable workflow: its own jobs carry the rest
            continue
        if "timeout-minutes" not in job:
            found.append(f"{name}: job {job_id} has no timeout-minutes")
        if "environment" in job:
            concurrency = job.get("concurrency") or {}
            if concurrency.get("cancel-in-progress") is not False or "group" not in concurrency:
                found.append(f"{name}: deploy job {job_id} lacks concurrency with "
                             "cancel-in-progress: false")
            env = str(job["environment"])
            if env not in str(concurrency.get("group", "")):
                found.append(f"{name}: job {job_id}'s concurrency group is not per environment")
        grants = job.get("permissions") or {}
        if grants.get("id-token") == "write" and not any(
                "configure-aws-credentials" in str(s.get("uses", "")) or "auth@" in str(
                    s.get("uses", "")) or "azure/login" in str(s.get("uses", ""))
                for s in job.get("steps", [])):
            found.append(f"{name}: job {job_id} asks for id-token: write without a cloud login")
    for job_id, step in steps(wf):
        uses = str(step.get("uses", ""))
        if uses and not uses.startswith(("./", "docker://")) and not PINNED.match(uses):
            found.append(f"{name}: {job_id} uses {uses}, not pinned to a full commit SHA")
        if "actions/checkout" in uses and (step.get("with") or {}).get(
                "persist-credentials") is not False:
            found.append(f"{name}: {job_id} checks out without persist-credentials: false")
        if "run" in step and EXPRESSION.search(str(step["run"])):
            found.append(f"{name}: {job_id} has a ${{{{ }}}} expression inside run:")
    for number, line in enumerate(lines, 1):
        match = re.search(r"uses: (\S+)(.*)$", line)
        if match and PINNED.match(match.group(1)) and not re.match(r"\s+# \S", match.group(2)):
            found.append(f"{name}:{number}: pinned action without a version comment")
    return found
