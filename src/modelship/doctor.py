"""`modelship doctor`: check what the other commands need before they need it.

Docker engine (and its API version), registry login, Kubernetes context, helm and kubectl.
A check is required when the config (or a flag) says the pipeline will use that part; a
required check that fails makes the command exit 3 with the part named and how to fix it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
from dataclasses import asdict, dataclass

from modelship import console, credentials, markdown
from modelship.config import Config
from modelship.errors import EXIT_INFRA, EXIT_OK, UsageError, first_line
from modelship.imageref import registry_host
from modelship.outcome import Outcome

HELP = "check the Docker engine, registry, Kubernetes context, helm and kubectl"
TIMEOUT = 5  # seconds


@dataclass
class Check:
    name: str
    ok: bool
    required: bool
    detail: str
    fix: str = ""

    @property
    def status(self) -> str:
        if self.ok:
            return "ok"
        return "MISSING" if self.required else "not available"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--registry", metavar="HOST[:PORT]",
                        help="registry to log in to (default: the host of image.repository)")
    parser.add_argument("--require", action="append", default=[], metavar="PART",
                        choices=["docker", "registry", "cluster", "helm", "kubectl"],
                        help="treat PART as required even if the config does not use it")
    parser.add_argument("--endpoint", metavar="URL",
                        help="only tell which serve.protocol the model server at URL speaks "
                             "(and the models it lists for serve.model)")


def check_docker() -> Check:
    try:
        import docker

        with contextlib.closing(docker.from_env(timeout=TIMEOUT)) as client:
            version = client.version()
    except Exception as e:
        return Check("docker", False, True, f"engine unreachable: {first_line(e, 160)}",
                     "start the Docker engine (dockerd) or set DOCKER_HOST")
    return Check("docker", True, True,
                 f"engine {version.get('Version')}, API {version.get('ApiVersion')}")


def check_registry(host: str, required: bool) -> Check:
    user, password = credentials.registry()
    if not user or not password:
        return Check("registry", False, required, f"{host}: no credentials",
                     "set MODELSHIP_REGISTRY_USER and MODELSHIP_REGISTRY_PASSWORD "
                     "(action inputs registry-username, registry-password)")
    try:
        import docker

        with contextlib.closing(docker.from_env(timeout=TIMEOUT * 2)) as client:
            answer = client.login(username=user, password=password, registry=host,
                                  reauth=True)
    except Exception as e:
        return Check("registry", False, required, f"{host}: login refused: {first_line(e, 160)}",
                     "check the registry address and credentials")
    return Check("registry", True, required, f"{host}: {answer.get('Status', 'logged in')}")


def check_cluster(required: bool) -> Check:
    try:
        from kubernetes import client, config

        # read KUBECONFIG now: the library fixes its default path when first imported
        api = config.new_client_from_config(config_file=os.environ.get("KUBECONFIG"))
        with api:
            version = client.VersionApi(api).get_code(_request_timeout=TIMEOUT)
    except Exception as e:
        return Check("cluster", False, required, f"no reachable context: {first_line(e, 160)}",
                     "set KUBECONFIG to a kubeconfig whose current context is reachable")
    return Check("cluster", True, required, f"API server {version.git_version}")


def check_tool(name: str, args: list[str], required: bool) -> Check:
    path = shutil.which(name)
    if not path:
        return Check(name, False, required, "not on PATH", f"install {name} and put it on PATH")
    try:
        out = subprocess.run([path, *args], capture_output=True, text=True, timeout=TIMEOUT * 2,
                             check=True).stdout.strip()
    except (subprocess.SubprocessError, OSError) as e:
        return Check(name, False, required, f"{path} does not run: {first_line(e, 160)}",
                     f"reinstall {name}")
    if name == "kubectl":
        try:
            out = json.loads(out)["clientVersion"]["gitVersion"]
        except (ValueError, KeyError):
            out = out.splitlines()[0] if out else "?"
    return Check(name, True, required, f"{out} ({path})")


def run_endpoint(endpoint: str) -> Outcome:
    """`doctor --endpoint URL`: which preset the server answers as (exit 3 when nothing
    answers, or no preset's path answers as its runtime does)."""
    from modelship import serving
    from modelship.serving import detect

    serving.mask_url(endpoint)
    try:
        serving.predict_url(endpoint, "/")  # checks it is an http(s) URL
    except ValueError as e:
        raise UsageError(f"--endpoint {serving.shown_url(endpoint)}: {e}") from None
    found = detect.detect(endpoint)
    shown = serving.shown_url(endpoint)
    if found.protocol:
        text = f"{shown} speaks serve.protocol {found.protocol}"
        if found.models:
            text += f" (models: {', '.join(found.models)})"
        hint = ""
        if found.protocol in ("v2", "kserve-v1", "torchserve") and found.models:
            hint = f"serve: {{protocol: {found.protocol}, model: {found.models[0]}}}"
        elif found.protocol == "openai-chat":
            hint = "serve: {protocol: openai-chat} (or openai-completions for /v1/completions)"
        else:
            hint = f"serve: {{protocol: {found.protocol}}}"
        text += f"\n  in modelship.yaml: {hint}"
    elif found.reachable:
        text = (f"{shown} answers, but not as any serve.protocol preset does; set serve.health, "
                "serve.predict and gate.online.* by hand")
    else:
        text = f"{shown}: no answer ({found.evidence[-1] if found.evidence else 'no probe'})"
    if found.reachable:
        text += "\n  probes: " + "; ".join(found.evidence)
    result = {"endpoint": shown, **found.as_dict()}
    return Outcome(result, EXIT_OK if found.protocol else EXIT_INFRA, text=text,
                   summary="### modelship doctor --endpoint\n\n" + text.replace("\n", "\n\n"),
                   outputs={"ok": str(bool(found.protocol)).lower(),
                            "protocol": found.protocol or ""})


def run(args: argparse.Namespace, cfg: Config) -> Outcome:
    if getattr(args, "endpoint", None):
        return run_endpoint(args.endpoint)
    wants = set(args.require)
    uses_deploy = cfg.has("deploy") or cfg.has("environments")
    host = args.registry or registry_host(cfg.get_str("image.repository", ""))
    checks = [check_docker()]
    if host:
        checks.append(check_registry(host, required=True))
    elif "registry" in wants:
        checks.append(Check("registry", False, True, "no registry given",
                            "pass --registry HOST or set image.repository"))
    checks.append(check_cluster(required=uses_deploy or "cluster" in wants))
    checks.append(check_tool("helm", ["version", "--short"],
                             required=uses_deploy or "helm" in wants))
    checks.append(check_tool("kubectl", ["version", "--client", "-o", "json"],
                             required=uses_deploy or "kubectl" in wants))
    failed = [c for c in checks if c.required and not c.ok]
    rows = [(c.name, c.status, c.detail, c.fix if not c.ok else "") for c in checks]
    headers = ("check", "status", "detail", "how to fix")
    text = console.table_text(headers, rows)
    if failed:
        text += f"\n\nmissing: {', '.join(c.name for c in failed)}"
    summary = "### modelship doctor\n\n" + markdown.table(headers, rows)
    result = {"ok": not failed, "checks": [asdict(c) for c in checks]}
    return Outcome(result, EXIT_INFRA if failed else EXIT_OK, text=text, summary=summary,
                   outputs={"ok": str(not failed).lower()})
