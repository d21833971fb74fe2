"""The desired state of a release as plain data, shared by plans, values and state. Pure.

`Desired` is what one `helm upgrade` asks for: which tracks or colours run which image, the
canary's weight, and which colour is active. values.py turns it into chart values and back.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

COLOURS = ("blue", "green")


@dataclass(frozen=True)
class Track:
    image: str  # a full reference, always pinned: repo@sha256:... (repo:tag@sha256:... too)
    version: str  # model version shown in labels, status and history

    @property
    def digest(self) -> str | None:
        return self.image.rsplit("@", 1)[1] if "@" in self.image else None

    @property
    def repository(self) -> str:
        return repository_of(self.image)


def repository_of(image: str) -> str:
    """`host:5000/a/b:1.0@sha256:...` -> `host:5000/a/b`."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)
    if ":" in last[-1]:
        name = name[: name.rfind(":")]
    return name


def other(colour: str) -> str:
    return "green" if colour == "blue" else "blue"


@dataclass(frozen=True)
class Desired:
    strategy: str  # canary | blue-green | rolling
    replicas: int
    stable: Track | None = None  # rolling and canary
    canary: Track | None = None  # canary strategy, while a canary runs
    weight: int = 0  # canary share, 0-100
    blue: Track | None = None
    green: Track | None = None
    active: str = "blue"
    idle_replicas: int | None = None  # None: the idle colour is kept warm (= replicas)

    def colour(self, name: str) -> Track | None:
        return self.blue if name == "blue" else self.green

    @property
    def idle(self) -> str:
        return other(self.active)

    @property
    def serving(self) -> Track | None:
        """The version production answers with: the stable track or the active colour."""
        if self.strategy == "blue-green":
            return self.colour(self.active)
        return self.stable

    @property
    def in_progress(self) -> bool:
        """A canary runs, or a new version waits in the idle colour before the switch."""
        if self.strategy == "canary":
            return self.canary is not None
        return False

    def with_colour(self, name: str, track: Track | None) -> Desired:
        return replace(self, blue=track) if name == "blue" else replace(self, green=track)
