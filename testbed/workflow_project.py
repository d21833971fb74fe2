"""A model repository that uses the rendered workflow templates, ready for act: an example
project, the modelship action in a subdirectory (so its Dockerfile is not taken for the model's),
`modelship init`'s workflows, a git commit, and the act arguments that run it offline.

Used by the e2e tests and the demo. act cannot clone actions/checkout here, so
`--local-repository` substitutes a stand-in (testbed/standins/checkout) for the pinned SHA; the
shipped templates never mention it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
ACTION_DIR = ".github/actions/modelship"
# act names a local Dockerfile action's image after its path (./.github/actions/modelship)
ACTION_IMAGE = "act-github-actions-modelship-dockeraction:latest"
CHECKOUT_STAND_IN = Path(__file__).parent / "standins" / "checkout"
RUNNER_IMAGE = "modelship-testbed/runner:bookworm"
CA = Path("/etc/ssl/certs/ca-certificates.crt")


def make(root: Path, example: Path, init_args: list[str]) -> Path:
    """Copy `example` to `root`, add the action and the rendered workflows, commit."""
    shutil.copytree(example, root)  # symlinks followed: the variants share files that way
    action = root / ACTION_DIR
    action.mkdir(parents=True)
    shutil.copy(REPO / "action.yml", action / "action.yml")
    shutil.copy(REPO / "Dockerfile", action / "Dockerfile")
    if CA.is_file():  # the model image's pip needs the machine's CA bundle (ENVIRONMENT.md)
        shutil.copy(CA, root / "ca.crt")
    init = subprocess.run([sys.executable, "-m", "modelship", "init", "--yes", "--dir", str(root),
                           "--action", f"./{ACTION_DIR}", *init_args],
                          capture_output=True, text=True, check=False,
                          env={"PYTHONPATH": str(REPO / "src"), "PATH": "/usr/bin:/bin"})
    if init.returncode != 0:
        msg = f"modelship init failed (exit {init.returncode}):\n{init.stderr}"
        raise RuntimeError(msg)
    git = ["git", "-C", str(root), "-c", "user.name=modelship", "-c",
           "user.email=modelship@example.com"]
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "feat: the model"], check=True)
    return root


def act_args(root: Path) -> list[str]:
    """What act needs beyond the event to run the project's workflows offline."""
    from modelship.workflows import pins

    args = ["--local-repository",
            f"{pins.CHECKOUT.repository}@{pins.CHECKOUT.sha}={CHECKOUT_STAND_IN}"]
    if (root / "ca.crt").is_file():
        args += ["--env", f"PIP_CERT={root / 'ca.crt'}"]
    return args


def tag_action_image(image_id: str) -> str:
    """Give the action image built from this checkout the name act looks for."""
    subprocess.run(["docker", "tag", image_id, ACTION_IMAGE], check=True)
    return ACTION_IMAGE


def live_analysis(prometheus: str) -> dict[str, Any]:
    """`analysis` for a canary judged on live traffic on the test bed, in seconds rather than
    minutes: counts per track from the test bed's Prometheus (act runs jobs on the host's
    network, so its 127.0.0.1 URL works inside the action container as it does for the
    kubeconfig's API server), the sequential comparison with stable and a limit on the
    canary's error rate; and model-aware probes: 40 eval rows sent to both versions through
    the API server's service proxy, whose answers must agree. `min_requests` suits a load of
    about 20 requests/s."""
    return {"prometheus": prometheus, "alpha": 0.01, "min_requests": 30,
            "on_inconclusive": "hold", "max_wait": "90s",
            "compare": {"error_rate": "stable", "latency_ms": {"above": 250}},
            "thresholds": {"error_rate": "<= 0.02"},
            "probes": {"eval_set": "eval/eval.jsonl", "rows": 40, "agreement": ">= 0.9"}}
