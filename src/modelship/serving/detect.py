"""Which serve.protocol a running server speaks (`modelship doctor --endpoint URL`).

Each preset's runtimes answer a metadata or health path no other one does, so a few GETs tell
them apart: `/v2` (Open Inference Protocol server metadata), `/v1/models` (an OpenAI-style
model list, or KServe V1's `{"models": [...]}`), `/ping` (TorchServe), `/schema.json` (BentoML),
`/healthz` (the custom default). The models a server lists are what serve.model can name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from modelship.errors import first_line

TIMEOUT = 5.0


@dataclass(frozen=True)
class Reply:
    status: int | None  # None: no answer
    body: Any = None  # the JSON answer, or None
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass
class Detection:
    protocol: str | None  # None: no preset's path answered as expected
    models: list[str] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)  # "GET /v2: HTTP 200 ..." per probe
    reachable: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"protocol": self.protocol, "models": self.models, "evidence": self.evidence,
                "reachable": self.reachable}


Fetch = Callable[[str, str, Any], Reply]  # (method, url, json body or None) -> Reply


def _fetch(method: str, url: str, body: Any) -> Reply:
    import requests

    try:
        with requests.request(method, url, json=body, timeout=TIMEOUT) as response:
            try:
                parsed = response.json()
            except ValueError:
                parsed = None
            return Reply(response.status_code, parsed)
    except requests.RequestException as e:
        return Reply(None, error=f"{type(e).__name__}: {first_line(e, 120)}")


def _names(items: Any, key: str) -> list[str]:
    if not isinstance(items, list):
        return []
    return [str(i[key]) for i in items if isinstance(i, dict) and key in i]


def detect(base_url: str, fetch: Fetch = _fetch) -> Detection:
    """Probe a server's base URL; the first preset whose path answers as that runtime does
    wins."""
    base = base_url.rstrip("/")
    found = Detection(None)

    def get(path: str, method: str = "GET", body: Any = None) -> Reply:
        reply = fetch(method, base + path, body)
        found.reachable = found.reachable or reply.status is not None
        shown = f"HTTP {reply.status}" if reply.status is not None else reply.error
        found.evidence.append(f"{method} {path}: {shown}")
        return reply

    v2 = get("/v2")
    if v2.ok and isinstance(v2.body, dict) and "extensions" in v2.body:
        found.protocol = "v2"
        index = get("/v2/repository/index", "POST", {})
        found.models = _names(index.body, "name") if index.ok else []
        return found
    if not found.reachable:  # nothing listens there: no point trying the other paths
        return found
    models = get("/v1/models")
    if models.ok and isinstance(models.body, dict):
        if isinstance(models.body.get("data"), list):
            found.protocol, found.models = "openai-chat", _names(models.body["data"], "id")
            return found
        if isinstance(models.body.get("models"), list):
            found.protocol, found.models = "kserve-v1", [str(m) for m in models.body["models"]]
            return found
    ping = get("/ping")
    if ping.ok and isinstance(ping.body, dict) and "status" in ping.body:
        found.protocol = "torchserve"
        return found
    schema = get("/schema.json")
    if schema.ok and isinstance(schema.body, dict) and isinstance(schema.body.get("routes"),
                                                                   list):
        found.protocol = "bentoml"
        found.models = [r.lstrip("/") for r in _names(schema.body["routes"], "route")]
        return found
    if get("/healthz").ok:
        found.protocol = "custom"
    return found

