"""The demo: the example model through its rendered workflows under act, on the local test bed.

  scripts/demo

Brings the test bed up (Docker, registry, cluster with a real node), builds the action image,
renders the workflows into a copy of examples/sentiment (`modelship init`), then runs under act:
CD on a push (1.0.0: gate, build, push, staging, production), CD on a second push (2.0.0, a
code change, released by canary steps, each judged in production by the analysis on live
traffic: the test bed's Prometheus counts the requests a load generator sends to production's
Service meanwhile), and the rollback workflow on the tag rollback-v1.0.0. It prints the
canary's evidence per step and where to look: act's logs, the job summaries, and production's
status table.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import yaml

from testbed import act_binary, act_log, action_image, state, workflow_project
from testbed.load import Load, service_url

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "sentiment"
PULL_SECRET = "testbed-registry"  # noqa: S105  the name of a Secret, not a password
SMALL = {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"memory": "256Mi"}}
RPS = 20  # live requests per second to production's Service during the canary


def kubectl(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    return subprocess.run(["kubectl", *args], env=env, input=stdin, capture_output=True,
                          text=True, check=True).stdout


def namespaces(env: dict[str, str], ident: str) -> dict[str, str]:
    created = {}
    for environment in ("staging", "production"):
        name = f"demo-{environment}-{ident}"
        kubectl(env, "create", "namespace", name)
        kubectl(env, "-n", name, "create", "secret", "docker-registry", PULL_SECRET,
                f"--docker-server={env['MODELSHIP_TEST_REGISTRY']}",
                f"--docker-username={env['MODELSHIP_TEST_REGISTRY_USER']}",
                f"--docker-password={env['MODELSHIP_TEST_REGISTRY_PASSWORD']}")
        created[environment] = name
    return created


def configure(root: Path, spaces: dict[str, str], version: str, prometheus: str) -> None:
    path = root / "modelship.yaml"
    config: dict[str, Any] = yaml.safe_load(path.read_text())
    config["model"]["version"] = version
    config["deploy"] = {
        "release": "sentiment", "namespace": spaces["production"], "strategy": "canary",
        "replicas": 2, "timeout": "180s", "canary": {"steps": [50, 100], "interval": "3s"},
        "values": {"imagePullSecrets": [{"name": PULL_SECRET}], "resources": SMALL,
                   "terminationGracePeriodSeconds": 5, "monitoring": {"enabled": True},
                   "probes": {"startup": {"periodSeconds": 1},
                              "readiness": {"periodSeconds": 1}}},
    }
    # production's canary is judged on live traffic (Prometheus); staging gets no traffic in
    # the demo, so readiness alone judges it
    config["environments"] = {
        "staging": {"namespace": spaces["staging"]},
        "production": {"namespace": spaces["production"],
                       "analysis": workflow_project.live_analysis(prometheus)}}
    path.write_text(yaml.safe_dump(config, sort_keys=False))


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), "-c", "user.name=demo", "-c",
                    "user.email=demo@example.com", *args], check=True)


def act(root: Path, workflow: str, event: str, payload: dict[str, Any], env: dict[str, str],
        out: Path, label: str) -> str:
    event_file = out / f"{label}.event.json"
    event_file.write_text(json.dumps(payload))
    log = out / f"{label}.log"
    secrets = {"REGISTRY_USERNAME": env["MODELSHIP_TEST_REGISTRY_USER"],
               "REGISTRY_PASSWORD": env["MODELSHIP_TEST_REGISTRY_PASSWORD"],
               "KUBECONFIG": Path(env["KUBECONFIG"]).read_text()}
    argv = [act_binary(), event, "-W", str(root / ".github" / "workflows" / workflow),
            "-e", str(event_file), "-P", f"ubuntu-latest={workflow_project.RUNNER_IMAGE}",
            "--pull=false", "--rebuild=false", "-b", *workflow_project.act_args(root)]
    for key, value in secrets.items():
        argv += ["-s", f"{key}={value}"]
    state.say(f"act {event} {workflow} ({label}) -> {log}")
    started = time.monotonic()
    with open(log, "w") as fh:
        proc = subprocess.run(argv, cwd=root, stdout=fh, stderr=subprocess.STDOUT, check=False,
                              env={"HOME": str(out / "home"), "PATH": "/usr/bin:/bin"})
    text = log.read_text()
    summaries = "\n\n".join(act_log.summaries(text))
    (out / f"{label}.summary.md").write_text(summaries + "\n")
    for line in text.splitlines():
        if "Job succeeded" in line or "Job failed" in line or "::set-output:: outcome=" in line:
            print("   ", line.strip()[:160], file=sys.stderr)
    state.say(f"{label}: exit {proc.returncode} in {time.monotonic() - started:.0f}s; "
              f"summaries in {out / f'{label}.summary.md'}")
    if proc.returncode != 0:
        sys.exit(f"demo: {label} failed; see {log}")
    return text


def judged(log: str, summary: Path) -> None:
    """Show that production's canary was judged on the live traffic, step by step."""
    result = act_log.deploy_result(log, "production")
    lines = act_log.evidence_lines(result) if result else []
    if not lines:
        sys.exit("demo: production's deploy shows no analysis evidence; see the act log")
    state.say("production canary analysis (Prometheus counts per track):")
    for line in lines:
        print("   ", line, file=sys.stderr)
    state.say(f"the evidence table and charts: '#### Canary analysis' in {summary}")


def main() -> None:
    import testbed

    started = time.monotonic()
    env = {**os.environ, **testbed.up()}
    if not env.get("MODELSHIP_TEST_GATEWAY"):
        sys.exit("demo: the test bed runs no real node; the demo needs pods that run")
    workflow_project.tag_action_image(action_image.build("act-dockeraction:latest"))
    ident = uuid.uuid4().hex[:6]
    out = state.run_dir() / "demo" / ident
    (out / "home").mkdir(parents=True)
    spaces = namespaces(env, ident)
    root = workflow_project.make(out / "model", EXAMPLE,
                                 ["--registry", env["MODELSHIP_TEST_REGISTRY"], "--image",
                                  f"demo/sentiment-{ident}", "--strategy", "canary"])
    push = {"ref": "refs/heads/main", "repository": {"default_branch": "main"}}

    prometheus = env["MODELSHIP_TEST_PROMETHEUS"]
    configure(root, spaces, "1.0.0", prometheus)
    git(root, "commit", "-qam", "release 1.0.0")
    act(root, "modelship-cd.yml", "push", push, env, out, "1-cd-push-1.0.0")

    configure(root, spaces, "2.0.0", prometheus)
    server = root / "server.py"
    server.write_text(server.read_text() + "\n# 2.0.0\n")
    git(root, "commit", "-qam", "fix: 2.0.0")
    url = service_url(env, spaces["production"], "sentiment")
    state.say(f"load: {RPS} requests/s to production's Service {url} during the next run")
    with Load(url, rps=RPS, workers=8).running() as sent:
        text = act(root, "modelship-cd.yml", "push", push, env, out, "2-cd-push-2.0.0-canary")
    state.say(f"load: {sent.line()}")
    judged(text, out / "2-cd-push-2.0.0-canary.summary.md")

    git(root, "tag", "rollback-v1.0.0")
    act(root, "modelship-rollback.yml", "push", {"ref": "refs/tags/rollback-v1.0.0"}, env, out,
        "3-rollback-tag")

    status = subprocess.run([sys.executable, "-m", "modelship", "status", "--environment",
                             "production"], cwd=root, capture_output=True, text=True,
                            check=False, env={**env, "PYTHONPATH": str(REPO / "src")})
    print(status.stdout or status.stderr)
    print(f"demo done in {time.monotonic() - started:.0f}s. Look at:\n"
          f"  the model repository with its workflows: {root}\n"
          f"  act logs and job summaries: {out}/*.log, {out}/*.summary.md\n"
          f"  production: kubectl -n {spaces['production']} get pods; "
          f"modelship status --environment production (in {root})\n"
          "The test bed keeps running: scripts/testbed down stops it.")


if __name__ == "__main__":
    main()
