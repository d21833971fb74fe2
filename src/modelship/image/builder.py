"""Build, tag and push with the docker SDK (the engine's legacy builder): streamed progress,
the failing step and its last lines on error, registry login, push with retries, the digest."""

from __future__ import annotations

import os
import re
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from modelship import console
from modelship.errors import InfraError, UsageError, first_line

LAST_LINES = 20
PUSH_ATTEMPTS = 3
_NETWORK_HINTS = re.compile(r"(Temporary failure in name resolution|Could not fetch URL|"
                            r"Connection (?:refused|reset)|Max retries exceeded|"
                            r"No matching distribution found|network is unreachable|"
                            r"ConnectTimeout|ReadTimeout|SSLError|i/o timeout)", re.I)
_AUTH_HINTS = re.compile(r"(unauthorized|authentication required|denied|401|403)", re.I)


class BuildFailed(UsageError):
    """A Dockerfile step failed (exit 2: the project's Dockerfile or requirements)."""


class BuildInfraFailed(InfraError):
    """A step failed because something it needed was unreachable (exit 3)."""


@dataclass
class BuildResult:
    image_id: str
    steps: int
    cached_steps: int
    seconds: float


@dataclass
class PushResult:
    digest: str
    bytes_pushed: int  # compressed bytes of layers the registry did not have
    layers_pushed: int
    layers_existing: int
    attempts: int


def client(timeout: int = 600) -> Any:
    """A docker SDK client, or InfraError (exit 3) when the engine does not answer."""
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if host.startswith("unix://") and not Path(host[len("unix://"):]).exists():
        msg = f"the Docker engine does not answer: no socket at {host[len('unix://'):]}"
        raise InfraError(msg, hint="start dockerd or set DOCKER_HOST")
    own = None
    try:
        import docker

        own = docker.from_env(timeout=timeout)
        own.ping()
    except Exception as e:
        if own is not None:
            own.close()
        msg = f"the Docker engine does not answer: {first_line(e, 300)}"
        raise InfraError(msg, hint="start dockerd or set DOCKER_HOST") from e
    return own


def build(api: Any, fileobj: IO[bytes], **kwargs: Any) -> BuildResult:
    """Run the build, printing the engine's output as it comes; raise BuildFailed naming the
    failing step and its last output lines, InfraError when the engine itself fails."""
    import docker.errors
    import requests

    try:
        return _build(api, fileobj, **kwargs)
    except (docker.errors.APIError, requests.RequestException) as e:
        msg = f"the Docker engine failed during the build: {first_line(e, 300)}"
        raise InfraError(msg, hint="check the engine (docker info) and the build "
                                   "settings (image.network, image.platform)") from e


def _build(api: Any, fileobj: IO[bytes], *, dockerfile: str, tag: str, labels: dict[str, str],
           buildargs: dict[str, str], cache_from: list[str], network_mode: str | None,
           platform: str | None = None, nocache: bool = False) -> BuildResult:
    started = time.monotonic()
    progress = console.Progress(f"docker build {tag}", every=10.0)
    step = ""
    steps = cached = 0
    step_lines: deque[str] = deque(maxlen=LAST_LINES)
    image_id = ""
    kwargs: dict[str, Any] = {}
    if platform:
        kwargs["platform"] = platform
    stream = api.build(fileobj=fileobj, custom_context=True, dockerfile=dockerfile, tag=tag,
                       labels=labels, buildargs=buildargs, cache_from=cache_from or None,
                       network_mode=network_mode, rm=True, forcerm=True, decode=True,
                       pull=False, nocache=nocache, **kwargs)
    for event in stream:
        if "error" in event:
            detail = event.get("errorDetail") or {}
            _fail(step, str(detail.get("message") or event["error"]), list(step_lines))
        if "aux" in event and isinstance(event["aux"], dict) and event["aux"].get("ID"):
            image_id = event["aux"]["ID"]
        text = event.get("stream") or event.get("status") or ""
        for line in str(text).splitlines():
            line = line.rstrip()
            if not line:
                continue
            if re.match(r"^Step \d+/\d+ : ", line):
                step, steps = line, steps + 1
                step_lines.clear()
                console.info(line)
                continue
            if "Using cache" in line:
                cached += 1
            match = re.match(r"^Successfully built ([0-9a-f]+)", line)
            if match and not image_id:
                image_id = match.group(1)
            step_lines.append(line)
            console.info(f"    {line}")
        progress.tick(step or "sending context")
    if not image_id:
        _fail(step, "the engine did not report an image id", list(step_lines))
    progress.done(f"{steps} steps, {cached} cached")
    return BuildResult(image_id, steps, cached, time.monotonic() - started)


def _fail(step: str, message: str, lines: list[str]) -> None:
    where = step or "before the first step"
    tail = "\n".join(f"    {line}" for line in lines[-LAST_LINES:]) or "    (no output)"
    msg = f"docker build failed at {where}\n  {message.strip()}\n  last output:\n{tail}"
    if "pull access denied" in message or "manifest unknown" in message or \
            ("FROM" in where and ("not found" in message or "dial tcp" in message)):
        raise BuildInfraFailed(msg, hint="the base image is neither present locally nor "
                                         "pullable from its registry")
    if _NETWORK_HINTS.search(message) or any(_NETWORK_HINTS.search(line) for line in lines):
        raise BuildInfraFailed(msg, hint="a build step could not reach the network (package "
                                         "index?); check connectivity, proxy and CA settings")
    raise BuildFailed(msg, hint="fix the failing step in the Dockerfile or the requirements")


def login(api: Any, registry: str, user: str, password: str, *,
          attempts: int = PUSH_ATTEMPTS, backoff: float = 2.0) -> None:
    """Check the credentials before a long build; InfraError (exit 3) when the registry refuses
    them (not retried) or cannot be reached after the attempts."""
    for attempt in range(1, attempts + 1):
        try:
            api.login(username=user, password=password, registry=registry, reauth=True)
            return
        except Exception as e:
            text = first_line(e, 300)
            refused = bool(_AUTH_HINTS.search(text))
            if not refused and attempt < attempts:
                console.info(f"login to {registry} failed ({text}); retrying in "
                             f"{backoff * attempt:.0f}s")
                time.sleep(backoff * attempt)
                continue
            why = "refused the credentials" if refused else \
                f"cannot be reached after {attempts} attempts"
            msg = f"registry {registry} {why} (user '{user}'): {text}"
            raise InfraError(msg, hint="check registry-username / registry-password "
                                       "(MODELSHIP_REGISTRY_USER / MODELSHIP_REGISTRY_PASSWORD) "
                                       "and the registry address") from e


def pull_quietly(api: Any, repository: str, tag: str, auth: dict[str, str] | None) -> bool:
    """Try to pull a previous image for --cache-from; any failure just means no cache."""
    try:
        for event in api.pull(repository, tag=tag, stream=True, decode=True, auth_config=auth):
            if "error" in event:
                return False
    except Exception:
        return False
    return True


def push(api: Any, repository: str, tag: str, auth: dict[str, str] | None, *,
         attempts: int = PUSH_ATTEMPTS, backoff: float = 2.0) -> PushResult:
    """Push one tag with retries (refused credentials are not retried)."""
    last = ""
    for attempt in range(1, attempts + 1):
        try:
            return _push_once(api, repository, tag, auth, attempt)
        except _AuthRefused as e:
            msg = f"registry refused the push of {repository}:{tag}: {e}"
            raise InfraError(msg, hint="check the registry credentials and that the user may "
                                       "push to this repository") from None
        except Exception as e:
            last = first_line(e, 300)
            if attempt < attempts:
                console.info(f"push of {repository}:{tag} failed ({last}); "
                             f"retrying in {backoff * attempt:.0f}s")
                time.sleep(backoff * attempt)
    msg = f"push of {repository}:{tag} failed after {attempts} attempts: {last}"
    raise InfraError(msg, hint="check that the registry is reachable")


class _AuthRefused(Exception):
    pass


def _push_once(api: Any, repository: str, tag: str, auth: dict[str, str] | None,
               attempt: int) -> PushResult:
    progress = console.Progress(f"docker push {repository}:{tag}", every=10.0)
    totals: dict[str, int] = {}
    status: dict[str, str] = {}
    digest = ""
    for event in api.push(repository, tag=tag, stream=True, decode=True, auth_config=auth):
        if "error" in event:
            message = str((event.get("errorDetail") or {}).get("message") or event["error"])
            if _AUTH_HINTS.search(message):
                raise _AuthRefused(message)
            raise RuntimeError(message)
        aux = event.get("aux")
        if isinstance(aux, dict) and aux.get("Digest"):
            digest = aux["Digest"]
        layer = event.get("id")
        if layer and event.get("status"):
            status[layer] = event["status"]
            total = (event.get("progressDetail") or {}).get("total")
            if isinstance(total, int):
                totals[layer] = max(totals.get(layer, 0), total)
            progress.tick(f"{layer}: {event['status']}")
    if not digest:
        raise RuntimeError("the engine reported no digest for the push")
    pushed = [k for k, v in status.items() if v == "Pushed"]
    existing = [k for k, v in status.items() if v in ("Layer already exists", "Mounted from")
                or v.startswith("Mounted from")]
    result = PushResult(digest, sum(totals.get(k, 0) for k in pushed), len(pushed),
                        len(existing), attempt)
    progress.done(f"{digest} ({len(pushed)} layers pushed, {len(existing)} already there)")
    return result
