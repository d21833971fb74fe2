"""Benchmark: time from act's job start to the modelship action's first log line.

Contender: the release form of action.yml, `runs.image: docker://<prebuilt image>` (a local image
here, as it would be pulled by digest from a registry on a hosted runner).
Baseline, measured in the same run with the same act, workflow and machine: the development form
`runs.image: Dockerfile`, which act (like GitHub) builds on every run. A hosted runner starts
with an empty Docker cache, so before each baseline run the built image (and with it the
legacy builder's cached layers) is removed; the base image stays local in both cases.

The Dockerfile installs the hashed locks with pip; PyPI is not reachable from a build container
on this machine, so the locked wheels are served from the host on the docker0 bridge and the
baseline's Dockerfile copy gets that index as its ARG default (a local index: if anything this
flatters the baseline, since PyPI over the internet is slower).

Reported: the median seconds of each and the ratio prebuilt / Dockerfile (goal <= 0.15).
Needs the test bed's Docker engine (scripts/testbed up). python benchmarks/action_start_bench.py
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.server
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from testbed import act_binary, action_image  # noqa: E402

PREBUILT = "modelship-bench/action:prebuilt"
RUNNER_IMAGE = "modelship-testbed/runner:bookworm"
CONTEXT = ["requirements", "docker", "src", "helm-chart", "workflow-templates", "entrypoint.py",
           ".dockerignore"]
WORKFLOW = """\
name: action start bench
on: push
permissions:
  contents: read
jobs:
  start:
    runs-on: ubuntu-latest
    timeout-minutes: 30
    steps:
      - name: modelship
        uses: ./{action}
        with:
          command: doctor
"""
STEP_START = re.compile(r"⭐ Run Main modelship")
JOB_START = re.compile(r"🚀\s+Start image=")
OUTPUT_LINE = re.compile(r"^\[[^\]]+\]\s+\|\s")


def bridge_address() -> str:
    out = subprocess.run(["ip", "-4", "-o", "addr", "show", "docker0"], capture_output=True,
                         text=True, check=True).stdout
    match = re.search(r"inet (\d+\.\d+\.\d+\.\d+)/", out)
    if not match:
        sys.exit("no docker0 bridge address: is the test bed's Docker engine up?")
    return match.group(1)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def wheel_index(directory: Path, host: str) -> Iterator[str]:
    handler = functools.partial(_Quiet, directory=str(directory))
    server = http.server.ThreadingHTTPServer((host, 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://{host}:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def project(root: Path, index: str) -> Path:
    """A repository with the action twice: prebuilt image and Dockerfile (built per run)."""
    action_yml = (REPO / "action.yml").read_text()
    prebuilt = root / "prebuilt"
    prebuilt.mkdir(parents=True)
    (prebuilt / "action.yml").write_text(
        re.sub(r"(?m)^  image: Dockerfile$", f"  image: docker://{PREBUILT}", action_yml))
    dockerfile = root / "dockerfile"
    dockerfile.mkdir()
    (dockerfile / "action.yml").write_text(action_yml)
    for name in CONTEXT:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, dockerfile / name, symlinks=True)
        else:
            shutil.copy(source, dockerfile / name)
    text = (REPO / "Dockerfile").read_text()
    text = text.replace("ARG PIP_FIND_LINKS\n", f"ARG PIP_FIND_LINKS={index}\n")
    text = text.replace("ARG PIP_NO_INDEX\n", "ARG PIP_NO_INDEX=1\n")
    # the upstream digest cannot be pulled here: the stand-in carries the public tag
    text = re.sub(r"(?m)^ARG PYTHON_IMAGE=.*$", f"ARG PYTHON_IMAGE={action_image.base_image()}",
                  text)
    host = index.split("//", 1)[1].split(":", 1)[0]
    text = text.replace("ARG PIP_TRUSTED_HOST\n", f"ARG PIP_TRUSTED_HOST={host}\n")
    (dockerfile / "Dockerfile").write_text(text)
    for form in ("prebuilt", "dockerfile"):
        wf = root / f"{form}.yml"
        wf.write_text(WORKFLOW.format(action=form))
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    subprocess.run(["git", "-C", str(root), "-c", "user.name=b", "-c", "user.email=b@b",
                    "commit", "-q", "--allow-empty", "-m", "bench"], check=True)
    return root


def act_image_name(form: str) -> str:
    return f"act-{form}-dockeraction:latest"


def run_once(root: Path, form: str, home: Path) -> float:
    """Seconds from act's job start line to the action's first output line."""
    event = root / "event.json"
    event.write_text('{"ref": "refs/heads/main"}')
    argv = [act_binary(), "push", "-W", str(root / f"{form}.yml"), "-e", str(event),
            "-P", f"ubuntu-latest={RUNNER_IMAGE}", "--pull=false", "-b"]
    proc = subprocess.Popen(argv, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env={"HOME": str(home), "PATH": "/usr/bin:/bin"})
    assert proc.stdout is not None
    job_start = first_line = None
    in_step = False
    tail: list[str] = []
    for line in proc.stdout:
        now = time.monotonic()
        tail = [*tail[-40:], line]
        if job_start is None and JOB_START.search(line):
            job_start = now
        if STEP_START.search(line):
            in_step = True
        elif in_step and first_line is None and OUTPUT_LINE.match(line):
            first_line = now
    code = proc.wait()
    if code != 0 or job_start is None or first_line is None:
        sys.exit(f"act run ({form}) failed (exit {code}):\n{''.join(tail)}")
    return first_line - job_start


def remove_image(name: str) -> None:
    subprocess.run(["docker", "rmi", "-f", name], capture_output=True, check=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of each form (default 3)")
    args = parser.parse_args()
    print("building the prebuilt action image (the release's image) ...", flush=True)
    action_image.build(PREBUILT)
    wheels = action_image.wheelhouse()
    with tempfile.TemporaryDirectory(prefix="action-start-") as tmp, \
            wheel_index(wheels, bridge_address()) as index:
        root = project(Path(tmp) / "repo", index)
        home = Path(tmp) / "home"
        home.mkdir()
        times: dict[str, list[float]] = {"prebuilt": [], "dockerfile": []}
        for i in range(args.runs):
            for form in ("dockerfile", "prebuilt"):
                remove_image(act_image_name(form))  # a fresh runner: nothing built yet
                seconds = run_once(root, form, home)
                times[form].append(seconds)
                print(f"run {i + 1} {form:10s} job start -> first action line: {seconds:6.1f}s",
                      flush=True)
        remove_image(act_image_name("dockerfile"))
    prebuilt, dockerfile = (statistics.median(times[f]) for f in ("prebuilt", "dockerfile"))
    print(f"\nmedian job start -> first action log line: prebuilt {prebuilt:.1f}s, "
          f"Dockerfile built per run {dockerfile:.1f}s")
    print(f"ratio prebuilt / Dockerfile: {prebuilt / dockerfile:.3f} (goal <= 0.15)")


if __name__ == "__main__":
    main()
