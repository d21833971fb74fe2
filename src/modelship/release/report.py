"""Results of release commands: the contract's JSON, a text table, and the job summary (steps
with verdicts and durations, a Mermaid chart of the weight over time, pod problems)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from modelship import console, markdown
from modelship.outcome import Annotation, Outcome
from modelship.release import state as live_state
from modelship.release import strategy as strategies
from modelship.release.desired import Desired, Version
from modelship.release.runner import RunResult
from modelship.release.settings import ReleaseSettings


def _image(track: Version | None) -> dict[str, Any] | None:
    return {"image": track.image, "digest": track.digest} if track else None


def deploy_outcome(chosen: ReleaseSettings, result: RunResult, new: Version | None,
                   previous: Version | None, revision: int | None, *,
                   command: str = "deploy") -> Outcome:
    data: dict[str, Any] = {
        "release": chosen.release, "namespace": chosen.namespace,
        "environment": chosen.environment, "strategy": chosen.strategy,
        "outcome": result.outcome, "revision": revision,
        "image": new.image if new else None, "digest": new.digest if new else None,
        "previous": _image(previous),
        "steps": [s.as_json() for s in result.steps],
    }
    lines = [f"{command} {chosen.release} ({chosen.namespace}): {result.outcome}"
             + (f" at revision {revision}" if revision else "")]
    if new:
        lines.append(f"image: {new.image}")
    if result.steps:
        lines.append(console.table_text(
            ["step", "weight", "verdict", "seconds", "reason"],
            [(s.name, s.weight, s.verdict, round(s.seconds, 1), s.reason) for s in result.steps]))
    if result.message:
        lines.append(result.message)
    lines += [p.line() for p in result.problems]
    return Outcome(data, exit_code=result.exit_code, text="\n".join(lines),
                   summary=_summary(command, chosen, result, new),
                   outputs={"outcome": result.outcome, "revision": revision or ""},
                   annotations=_failed(result, command))


def _summary(command: str, chosen: ReleaseSettings, result: RunResult,
             new: Version | None) -> str:
    head = (f"### modelship {command}: {chosen.release} "
            f"({chosen.environment or chosen.namespace}) {result.outcome}\n\n")
    if new:
        head += f"Image `{new.image}` (version {new.version}), strategy {chosen.strategy}.\n\n"
    if not result.steps:
        return head + (result.message + "\n" if result.message else "")
    table = markdown.table(["step", "weight", "verdict", "seconds", "reason"],
                           [(s.name, f"{s.weight}%", s.verdict, round(s.seconds, 1), s.reason)
                            for s in result.steps])
    labels = ["0s", *[f"{s.ended_at:.0f}s" for s in result.steps]]
    weights = [0, *[s.weight if s.verdict == "passed" else 0 for s in result.steps]]
    quoted = ", ".join(f'"{label}"' for label in labels)
    chart = markdown.mermaid("\n".join([
        "xychart-beta", '    title "Traffic to the new version"', f"    x-axis [{quoted}]",
        '    y-axis "weight %" 0 --> 100', "    line [" + ", ".join(str(w) for w in weights)
        + "]"]))
    body = head + table + "\n" + chart
    analysed = [s.as_json() for s in result.steps if "decided_by" in s.evidence]
    if analysed:  # deploy.analysis ran: its table and charts (canary vs stable per step)
        from modelship.release.analysis import summary

        body += "\n" + summary.render(analysed)
    if result.message:
        body += f"\n**{result.message}**\n"
    if result.problems:
        body += "\nPod problems:\n\n" + "".join(f"- {p.line()}\n" for p in result.problems)
    return body


def rollback_outcome(chosen: ReleaseSettings, result: RunResult,
                     state: live_state.ReleaseState, target: Version, method: str,
                     revision: int | None, seconds: float) -> Outcome:
    before = state.desired.serving if state.desired else None
    data: dict[str, Any] = {
        "outcome": "rolled-back" if result.exit_code == 0 else result.outcome,
        "from": {"version": before.version if before else None,
                 "digest": before.digest if before else None, "revision": state.deployed},
        "to": {"version": target.version, "digest": target.digest, "revision": revision},
        "method": method, "seconds": round(seconds, 2),
    }
    text = (f"rollback {chosen.release}: {before.version if before else '-'} -> "
            f"{target.version} by {method} in {seconds:.1f}s (revision {revision})")
    if result.message:
        text += f"\n{result.message}"
    summary = (f"### modelship rollback: {chosen.release} "
               f"({chosen.environment or chosen.namespace})\n\n"
               + markdown.table(["from", "to", "method", "seconds"],
                                [(before.version if before else "-", target.version, method,
                                  round(seconds, 1))]))
    return Outcome(data, exit_code=result.exit_code, text=text, summary=summary,
                   outputs={"outcome": data["outcome"], "revision": revision or ""},
                   annotations=_failed(result, "rollback"))


def _failed(result: RunResult, command: str) -> list[Annotation]:
    if not result.exit_code:
        return []
    return [Annotation("error", result.message, f"modelship {command}")]


def _version(track: Version | None) -> str | None:
    return track.version if track else None


def status_json(chosen: ReleaseSettings, state: live_state.ReleaseState) -> dict[str, Any]:
    desired: Desired | None = state.desired
    serving = desired.serving if desired else None
    canary: dict[str, Any] | None = None
    active: str | None = None
    if desired is not None:
        canary, active = strategies.of(desired.strategy).status_fields(desired,
                                                                        paused=state.paused)
    data = {
        "release": chosen.release, "namespace": chosen.namespace,
        "strategy": desired.strategy if desired else None,
        "revision": state.latest.number if state.latest else None,
        "stable": ({"image": serving.image, "digest": serving.digest,
                    "version": serving.version} if serving else None),
        "canary": canary, "active_colour": active, "paused": state.paused,
        "history": [e.as_json() for e in reversed(state.history)],
    }
    if desired is not None and strategies.of(desired.strategy).colours:
        data["warm_colour"] = _warm(state)  # blue-green only: the contract's fields stay as is
    return data


def _warm(state: live_state.ReleaseState) -> dict[str, Any] | None:
    """The old blue-green colour kept warm after a switch (a rollback to it is a selector
    switch) and when the next modelship command after that time scales it to 0."""
    from modelship.release.session import warm_colour

    warm = warm_colour(state)
    desired = state.desired
    if warm is None or desired is None:
        return None
    version = desired.colour(warm[0])
    return {"colour": warm[0], "version": version.version if version else None,
            "digest": version.digest if version else None,
            "scale_down_at": datetime.fromtimestamp(warm[1], UTC).isoformat(timespec="seconds"),
            "seconds_left": max(round(warm[1] - time.time()), 0)}


def status_outcome(chosen: ReleaseSettings, state: live_state.ReleaseState,
                   found: dict[str, live_state.Live],
                   problems: list[live_state.PodProblem]) -> Outcome:
    data = status_json(chosen, state)
    if not state.exists:
        text = f"{chosen.release} is not deployed in namespace {chosen.namespace}"
        return Outcome(data, text=text, summary=f"### modelship status\n\n{text}\n")
    latest = state.latest
    head = (f"{chosen.release} ({chosen.namespace}) revision {data['revision']} "
            f"{latest.status if latest else ''}, strategy {data['strategy']}"
            + (", paused" if data["paused"] else ""))
    stable = data["stable"] or {}
    rows: list[tuple[object, ...]] = [("stable" if data["active_colour"] is None
                                       else f"active ({data['active_colour']})",
                                       stable.get("version"), stable.get("digest"), 100
                                       - (data["canary"] or {}).get("weight", 0))]
    if data["canary"]:
        rows.append(("canary" if data["active_colour"] is None else "preview", "-",
                     data["canary"]["digest"], data["canary"]["weight"]))
    tracks = console.table_text(["track", "version", "digest", "weight"], rows)
    pods = console.table_text(["deployment", "ready", "replicas", "version"],
                              [(d.name, d.ready, d.replicas, d.version) for d in found.values()])
    hist = console.table_text(["revision", "version", "digest", "git sha", "status"],
                              [(h["revision"], h["version"], (h["digest"] or "-")[:19],
                                (h["git_sha"] or "-")[:12], h["status"])
                               for h in data["history"][:10]])
    warm = data.get("warm_colour")
    scale_down = ""
    if warm:
        scale_down = (f"old colour {warm['colour']} ({warm['version']}) kept warm until "
                      f"{warm['scale_down_at']} ({warm['seconds_left']}s left); the next "
                      "modelship command on this release after that scales it to 0")
    text = "\n\n".join(x for x in (head, tracks, pods, hist, scale_down,
                                   "\n".join(p.line() for p in problems)) if x)
    summary = (f"### modelship status: {chosen.release}\n\n{head}\n\n"
               + markdown.table(["revision", "version", "digest", "git sha", "status"],
                                [(h["revision"], h["version"], h["digest"], h["git_sha"],
                                  h["status"]) for h in data["history"][:10]]))
    return Outcome(data, text=text, summary=summary)
