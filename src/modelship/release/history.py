"""What ran when: a record per Helm revision, and rollback targets found in it.

Every upgrade carries a `Record` in its Helm description (`modelship: {json}`): model version,
image and digest, git sha, gate report digest, strategy, the step, who ran it (the workflow
run URL in Actions, user@host pid N elsewhere). Helm overwrites the description of a failed
revision and writes `Rollback to N` for a rollback; such revisions fall back to their values.
"""

from __future__ import annotations

import getpass
import json
import os
import re
import socket
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from modelship import ghactions
from modelship.image.tags import SEMVER
from modelship.release.desired import Version
from modelship.release.helm import Revision

PREFIX = "modelship: "
_DIGEST = re.compile(r"^(sha256:)?([0-9a-f]{12,64})$")
_ROLLBACK_TO = re.compile(r"^Rollback to (\d+)")
MIN_SHA = 7  # the shortest commit prefix matched (git's short sha)


@dataclass(frozen=True)
class Record:
    action: str  # deploy | promote | abort | rollback | scale-down | recover
    step: str  # the plan step this revision applied
    strategy: str
    version: str | None = None  # the version this action moves to (canary or new colour)
    image: str | None = None
    digest: str | None = None
    git_sha: str | None = None
    gate_report: str | None = None  # sha256 of the gate report that passed this version
    verified: str | None = None  # what deploy.verify found (or UNVERIFIED, allowed by a flag)
    by: str = ""  # workflow run URL, or user@host pid N
    paused: bool = False
    scale_down: dict[str, Any] = field(default_factory=dict)  # {"colour", "at" (epoch s)}

    def describe(self) -> str:
        data = {k: v for k, v in asdict(self).items() if v not in (None, "", False, {})}
        return PREFIX + json.dumps(data, separators=(",", ":"), sort_keys=True)

    @classmethod
    def parse(cls, description: str) -> Record | None:
        if not description.startswith(PREFIX):
            return None
        try:
            data = json.loads(description[len(PREFIX):])
        except ValueError:
            return None
        if not isinstance(data, dict) or "action" not in data:
            return None
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        known.setdefault("step", "")
        known.setdefault("strategy", "")
        try:
            return cls(**known)
        except TypeError:
            return None


def who() -> str:
    url = ghactions.run_url()
    if url:
        return url
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()} pid {os.getpid()}"


@dataclass(frozen=True)
class Entry:
    revision: int
    status: str
    record: Record | None
    track: Version | None  # the version this revision moved to (record, else its values)

    @property
    def version(self) -> str | None:
        return self.track.version if self.track else None

    @property
    def digest(self) -> str | None:
        return self.track.digest if self.track else None

    def as_json(self) -> dict[str, Any]:
        out = {"revision": self.revision, "version": self.version, "digest": self.digest,
               "git_sha": self.record.git_sha if self.record else None,
               "status": self.status}
        # provenance, when the revision's record has it (the image's gate report digest and
        # what deploy.verify found), so `status` shows each version's evidence for free
        for name in ("gate_report", "verified"):
            value = getattr(self.record, name, None)
            if value:
                out[name] = value
        return out


def entries(revisions: Sequence[Revision],
            track_of: Callable[[int], Version | None]) -> list[Entry]:
    """Oldest first. `track_of(revision)` reads a revision's values when it has no record."""
    by_number: dict[int, Record] = {}
    out: list[Entry] = []
    for rev in revisions:
        record = Record.parse(rev.description)
        back = _ROLLBACK_TO.match(rev.description)
        if record is None and back and int(back.group(1)) in by_number:
            record = replace(by_number[int(back.group(1))], action="rollback",
                             step="helm-rollback", paused=False, scale_down={})
        if record is not None:
            by_number[rev.number] = record
        track = None
        if record is not None and record.image and record.version:
            track = Version(record.image, record.version)
        else:
            track = track_of(rev.number)
        out.append(Entry(rev.number, rev.status, record, track))
    return out


def normalise_version(text: str) -> str:
    text = text.strip()
    if text.startswith("rollback-"):
        text = text[len("rollback-"):]
    if text.startswith("v") and SEMVER.match(text):
        text = text[1:]
    return text


def find(history: Sequence[Entry], wanted: str) -> Entry | None:
    """The newest good revision for `wanted`: a version (1.2.3, v1.2.3), a tag that names one
    (rollback-v1.2.3), a revision number or a digest (sha256:..., or 12+ hex digits)."""
    good = [e for e in history if e.track is not None and e.status != "failed"]
    text = wanted.strip()
    if text.isdigit() and len(text) < 12:  # longer: the start of a digest
        number = int(text)
        return next((e for e in history if e.revision == number and e.track), None)
    match = _DIGEST.match(text.lower())
    if match:
        hexdigits = match.group(2)
        for entry in reversed(good):
            digest = (entry.digest or "").removeprefix("sha256:")
            if digest == hexdigits or (len(hexdigits) < 64 and digest.startswith(hexdigits)):
                return entry
        if text.startswith("sha256:"):
            return None
    version = normalise_version(text)
    return next((e for e in reversed(good) if e.version == version), None)


def find_by_commit(history: Sequence[Entry], sha: str) -> Entry | None:
    """The newest good revision a deploy made from commit `sha` (its recorded git_sha equal,
    or one a prefix of the other, at least 7 hex digits). Only deploys: a rollback, promote or
    abort records the commit it ran from, not the commit its image was built from."""
    wanted = sha.strip().lower()
    if len(wanted) < MIN_SHA:
        return None
    for entry in reversed(history):
        record = entry.record
        if entry.track is None or entry.status == "failed" or record is None \
                or record.action != "deploy" or not record.git_sha:
            continue
        recorded = record.git_sha.strip().lower()
        if len(recorded) >= MIN_SHA and (recorded.startswith(wanted)
                                         or wanted.startswith(recorded)):
            return entry
    return None


def pauses(history: Sequence[Entry], digest: str | None) -> int:
    """How often the release of `digest` has paused so far: paused records for that digest,
    newest first, back to the deploy that started it. Each pause ends one analysis segment
    (the next `promote` starts a fresh judge), which is what splits `alpha` between them."""
    if digest is None:
        return 0
    count = 0
    for entry in reversed(history):
        record = entry.record
        if record is None or record.digest != digest:
            break
        count += record.paused
        if record.action == "deploy" and entry.status != "failed":
            break
    return count


def known_versions(history: Sequence[Entry]) -> list[str]:
    seen: list[str] = []
    for entry in history:
        if entry.version and entry.status != "failed" and entry.version not in seen:
            seen.append(entry.version)
    return seen
