"""Real parts for the analysis tests: the example model servers (examples/sentiment and
sentiment-flaky, started as processes on 127.0.0.1) and Debian's Prometheus scraping them
every second through a static config that gives each target the chart's labels."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = REPO / "examples"
NAMESPACE = "analysis-test"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} did not answer within {seconds:g}s")
        time.sleep(0.2)


@dataclass
class ModelServer:
    """One example server process; `restart` gives a fresh process (counters from zero)."""

    project: str
    script: str
    port: int
    env: dict[str, str] = field(default_factory=dict)
    log: Path = Path("/dev/null")
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {**os.environ, "PORT": str(self.port), **self.env}
        with self.log.open("ab") as out:  # the child keeps its own copy of the descriptor
            self.process = subprocess.Popen([sys.executable, self.script],
                                            cwd=EXAMPLES / self.project, env=env,
                                            stdout=out, stderr=out)
        wait_http(f"{self.url}/healthz")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def predict(self, text: str) -> int:
        body = json.dumps({"text": text}).encode()
        request = urllib.request.Request(f"{self.url}/predict", data=body,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return int(response.status)
        except urllib.error.HTTPError as e:
            return int(e.code)


@dataclass
class Prometheus:
    binary: str
    port: int
    config: Path
    data: Path
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [self.binary, f"--config.file={self.config}",
                 f"--storage.tsdb.path={self.data}", f"--web.listen-address=127.0.0.1:{self.port}",
                 "--storage.tsdb.retention.time=1h"],
                stdout=out, stderr=out)
        wait_http(f"{self.url}/-/ready", 60)
        self._wait_scraped()

    def _wait_scraped(self, seconds: float = 60.0) -> None:
        """Until every target was scraped (discovery hands targets over after a few seconds)."""
        config = yaml.safe_load(self.config.read_text(encoding="utf-8"))
        targets = sum(len(group["targets"]) for job in config["scrape_configs"]
                      for group in job["static_configs"])
        deadline = time.monotonic() + seconds
        query = urllib.parse.urlencode({"query": "sum(up)"})
        while time.monotonic() < deadline:
            with urllib.request.urlopen(f"{self.url}/api/v1/query?{query}",
                                        timeout=5) as response:
                result = json.load(response)["data"]["result"]
            if result and float(result[0]["value"][1]) >= targets:
                return
            time.sleep(0.5)
        raise TimeoutError(f"Prometheus did not scrape all {targets} targets in {seconds:g}s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None

    def scrapes(self, seconds: float = 2.5) -> None:
        """Wait long enough for every target to be scraped at least twice (1 s interval)."""
        time.sleep(seconds)


def _binary() -> str:
    found = shutil.which("prometheus")
    if not found:
        pytest.fail("prometheus is not installed: run scripts/setup (Debian's prometheus)")
    return found


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, ModelServer]]:
    """stable and twin: the good example; canary: sentiment-flaky (every 5th request fails,
    30 ms slower); bad: sentiment-bad (wrong answers, no errors)."""
    logs = tmp_path_factory.mktemp("servers")
    made = {
        "stable": ModelServer("sentiment", "server.py", free_port(), log=logs / "stable.log"),
        "twin": ModelServer("sentiment", "server.py", free_port(), log=logs / "twin.log"),
        "canary": ModelServer("sentiment-flaky", "server_flaky.py", free_port(),
                              {"FLAKY_EVERY": "5", "FLAKY_DELAY_MS": "30"},
                              log=logs / "canary.log"),
        "bad": ModelServer("sentiment-bad", "server.py", free_port(), log=logs / "bad.log"),
    }
    try:
        for server in made.values():
            server.start()
        yield made
    finally:
        for server in made.values():
            server.stop()


@pytest.fixture(scope="module")
def prometheus(servers: dict[str, ModelServer],
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    """Scrapes the servers every second. Tracks as the chart labels them: `stable`, `canary`
    (the flaky server), `twin` (a second good server, for identical-version runs), `bad`."""
    root = tmp_path_factory.mktemp("prometheus")
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [{
            "job_name": "model",
            "static_configs": [
                {"targets": [f"127.0.0.1:{server.port}"],
                 "labels": {"namespace": NAMESPACE, "track": track}}
                for track, server in servers.items()],
        }],
    }
    (root / "prometheus.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    prom = Prometheus(_binary(), free_port(), root / "prometheus.yml", root / "data",
                      root / "prometheus.log")
    prom.start()
    try:
        yield prom
    finally:
        prom.stop()
