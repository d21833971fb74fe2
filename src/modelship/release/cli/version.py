"""`modelship version`: the model version this checkout or tag names (model.version: `auto` is
the tag v1.2.3 -> 1.2.3, else the short sha), what kind of ref it is, and with
`--environment NAME` what releasing it there would do: deploy, rollback or unchanged
(release/versions.py). The release workflow asks this instead of parsing tags in a script.

`--require release` (or `rollback`) exits 2 unless the ref is such a tag, before anything uses it.
"""

from __future__ import annotations

import argparse
import re
import subprocess
from typing import TYPE_CHECKING, Any

from modelship.config import Config
from modelship.outcome import Outcome
from modelship.release import versions

if TYPE_CHECKING:
    from modelship.image.gitinfo import GitInfo

HELP = ("the model version of this tag or commit, and with --environment whether releasing it "
        "deploys, rolls back or changes nothing")
_SHA = re.compile(r"^[0-9a-fA-F]{7,64}$")
REQUIRED_TAG = {"release": "v<semantic version> (e.g. v1.2.3)",
                "rollback": "rollback-v<semantic version> (e.g. rollback-v1.2.3)"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--environment", metavar="NAME",
                        help="compare with what this environment runs and decide: deploy, "
                             "rollback or unchanged (reads the release, so needs the cluster)")
    parser.add_argument("--require", choices=sorted(REQUIRED_TAG),
                        help="exit 2 unless the ref is a release tag v1.2.3 (or a rollback tag "
                             "rollback-v1.2.3)")


def run(args: argparse.Namespace, cfg: Config) -> Outcome:
    from modelship.errors import UsageError
    from modelship.image import gitinfo, tags

    git = gitinfo.detect(cfg.root)
    ref = _ref(git)
    kind, tagged = versions.kind_of(ref)
    if args.require and kind != args.require:
        shown = ref.removeprefix("refs/tags/") or "HEAD"
        raise UsageError(f"{shown}: the tag is not {REQUIRED_TAG[args.require]}",
                         hint="push a tag such as v1.2.3 to release (rollback-v1.2.3 to roll "
                              "back)")
    version = tagged or tags.version(cfg.get_str("model.version", "auto"), git)
    target = versions.Target(ref, kind, version, git.sha)
    result: dict[str, Any] = {"ref": ref, "kind": kind, "version": version, "sha": git.sha}
    outputs = {"version": version, "kind": kind}
    text = f"{version} ({kind} {ref or 'HEAD'}, commit {(git.sha or '-')[:12]})"
    if args.environment is not None:
        running = _running(args, cfg)
        decision = versions.decide(target, running, lambda a, b: _is_ancestor(cfg, a, b))
        result.update({
            "environment": args.environment,
            "running": ({"version": running.version, "digest": running.digest,
                         "git_sha": running.git_sha} if running else None),
            "decision": decision.decision, "reason": decision.reason})
        outputs["decision"] = decision.decision
        text += f"\n{args.environment}: {decision.decision} ({decision.reason})"
    return Outcome(result, text=text, outputs=outputs)


def _ref(git: GitInfo) -> str:
    """The full ref: GITHUB_REF in Actions, else built from what git says about HEAD."""
    from modelship import ghactions

    if ghactions.ref():
        return ghactions.ref()
    if git.tag:
        return f"refs/tags/{git.tag}"
    if git.branch:
        return f"refs/heads/{git.branch}"
    return ""


def _running(args: argparse.Namespace, cfg: Config) -> versions.Running | None:
    """What the environment serves and the commit its deploy recorded; None when no release
    of the model is there yet."""
    from modelship.release import session

    state = session.open_session(cfg, args.environment, lock_timeout=0).state()
    serving = state.desired.serving if state.desired is not None else None
    if serving is None:
        return None
    # the newest deploy of the digest it serves: rollback, promote and abort record the
    # commit they ran from, not the one the image was built from
    deploys = [e for e in state.history
               if e.record is not None and e.record.action == "deploy" and e.record.git_sha
               and e.track is not None and e.status != "failed"]
    ran = [e.record.git_sha for e in deploys if e.record is not None and e.track is not None
           and e.track.digest == serving.digest]
    return versions.Running(serving.version, serving.digest, str(ran[-1]) if ran else None,
                            tuple(str(e.record.git_sha) for e in deploys if e.record))


def _is_ancestor(cfg: Config, ancestor: str, descendant: str) -> bool | None:
    """git merge-base --is-ancestor in the project's checkout; None when git cannot tell
    (no git, as in the action's image; not a checkout; a shallow clone without the commits)."""
    if not all(_SHA.match(sha) for sha in (ancestor, descendant)):
        return None
    try:
        # safe.directory: in an action's container the workspace belongs to another user
        proc = subprocess.run(["git", "-c", "safe.directory=*", "-C", str(cfg.root),
                               "merge-base", "--is-ancestor", ancestor, descendant],
                              capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return {0: True, 1: False}.get(proc.returncode)
