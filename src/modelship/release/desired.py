"""The desired state of a release as plain data, shared by plans, values and state. Pure.

`Desired` is what one `helm upgrade` asks for: which tracks or colours run which image, the
canary's weight, and which colour is active. values.py turns it into chart values and back;
strategy.py answers what differs between strategies (which version serves, which comes in).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from modelship import imageref

COLOURS = ("blue", "green")


@dataclass(frozen=True)
class Version:
    """An image and the model version it carries."""

    image: str  # a full reference, always pinned: repo@sha256:... (repo:tag@sha256:... too)
    version: str  # model version shown in labels, status and history

    @property
    def digest(self) -> str | None:
        return imageref.digest_of(self.image)

    @property
    def repository(self) -> str:
        return imageref.repository_of(self.image)


def other(colour: str) -> str:
    return "green" if colour == "blue" else "blue"


@dataclass(frozen=True)
class Desired:
    strategy: str  # canary | blue-green | rolling
    replicas: int
    stable: Version | None = None  # rolling and canary
    canary: Version | None = None  # canary strategy, while a canary runs
    weight: int = 0  # canary share, 0-100
    shadow: bool = False  # the canary gets a mirrored copy of production's requests
    blue: Version | None = None
    green: Version | None = None
    active: str = "blue"
    idle_replicas: int | None = None  # None: the idle colour is kept warm (= replicas)

    def colour(self, name: str) -> Version | None:
        return self.blue if name == "blue" else self.green

    @property
    def idle(self) -> str:
        return other(self.active)

    @property
    def serving(self) -> Version | None:
        """The version production answers with: the stable track or the active colour."""
        from modelship.release import strategy

        return strategy.of(self.strategy).serving(self)

    def with_colour(self, name: str, version: Version | None) -> Desired:
        return replace(self, blue=version) if name == "blue" else replace(self, green=version)
