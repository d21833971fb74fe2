"""One release command at a time per model and environment: a coordination.k8s.io Lease in
the release's namespace, renewed while the command runs.

A second command waits up to --lock-timeout, showing who holds it, then fails with exit 3
naming the holder (workflow run URL, or user@host pid N). A Lease nobody renewed for its
duration (the holder was killed) is taken over. Optimistic concurrency (resourceVersion) makes
take-over safe when two commands race for it.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from modelship import console
from modelship.errors import InfraError
from modelship.release import kube

LEASE_SECONDS = 30  # a holder that stops renewing loses the lock after this
# `modelship abort` asks the command holding the lock to stop by annotating its Lease; the
# holder reads it at each poll, puts production back and ends as aborted on request. A new
# holder writes the Lease afresh, which clears a request meant for the one before.
ABORT_ANNOTATION = "modelship.io/abort-requested"
RENEW_EVERY = 10.0
# shorter leases for tests of the take-over (a killed holder); renewal keeps pace at 1/3
LEASE_SECONDS_VARIABLE = "MODELSHIP_LEASE_SECONDS"


def lease_seconds() -> int:
    text = os.environ.get(LEASE_SECONDS_VARIABLE, "")
    return int(text) if text.isdigit() and int(text) >= 3 else LEASE_SECONDS


def lease_name(release: str) -> str:
    return f"modelship-{release}"[:63].rstrip("-.")


@dataclass(frozen=True)
class Holder:
    identity: str
    renewed: datetime | None
    seconds: int

    @property
    def expired(self) -> bool:
        if not self.identity:
            return True
        if self.renewed is None:
            return True
        age = (datetime.now(UTC) - self.renewed).total_seconds()
        return age > self.seconds

    def describe(self) -> str:
        who = self.identity.rsplit(" #", 1)[0]
        if self.renewed is None:
            return who
        age = (datetime.now(UTC) - self.renewed).total_seconds()
        return f"{who} (renewed {age:.0f}s ago)"


def _holder(lease: Any) -> Holder:
    spec = lease.spec
    renewed = spec.renew_time or spec.acquire_time
    if renewed is not None and renewed.tzinfo is None:
        renewed = renewed.replace(tzinfo=UTC)
    return Holder(spec.holder_identity or "", renewed, spec.lease_duration_seconds or
                  LEASE_SECONDS)


class Lock:
    def __init__(self, api: Any, namespace: str, release: str, who: str, *,
                 seconds: int | None = None, renew_every: float | None = None) -> None:
        self.api = api
        self.namespace = namespace
        self.name = lease_name(release)
        # unique per command, so a retried workflow run does not think it holds the lock
        self.identity = f"{who} #{uuid.uuid4().hex[:8]}"
        self.seconds = seconds or lease_seconds()
        self.renew_every = renew_every or min(RENEW_EVERY, self.seconds / 3)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _coordination(self) -> Any:
        from kubernetes import client

        return client.CoordinationV1Api(self.api)

    def _ensure_namespace(self) -> None:
        from kubernetes import client
        from kubernetes.client.exceptions import ApiException

        core = client.CoreV1Api(self.api)
        try:
            core.read_namespace(self.namespace)
        except ApiException as e:
            if e.status != 404:
                raise
            try:
                body: Any = {"metadata": {"name": self.namespace}}
                core.create_namespace(body)
            except ApiException as again:
                if again.status != 409:
                    raise

    def _body(self, resource_version: str | None, acquired: datetime | None) -> dict[str, Any]:
        now = datetime.now(UTC)
        metadata: dict[str, Any] = {"name": self.name, "labels": {
            "app.kubernetes.io/managed-by": "modelship"}}
        if resource_version:
            metadata["resourceVersion"] = resource_version
        return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": metadata,
                "spec": {"holderIdentity": self.identity, "leaseDurationSeconds": self.seconds,
                         "acquireTime": _micro(acquired or now), "renewTime": _micro(now)}}

    def try_acquire(self) -> Holder | None:
        """None when we hold it now; else the current holder."""
        from kubernetes.client.exceptions import ApiException

        api = self._coordination()
        try:
            lease = api.read_namespaced_lease(self.name, self.namespace)
        except ApiException as e:
            if e.status != 404:
                raise
            try:
                api.create_namespaced_lease(self.namespace, self._body(None, None))
            except ApiException as again:
                if again.status == 409:  # someone created it first
                    return Holder("(another command, just now)", datetime.now(UTC),
                                  self.seconds)
                raise
            return None
        holder = _holder(lease)
        if holder.identity != self.identity and not holder.expired:
            return holder
        if holder.identity and holder.identity != self.identity:
            console.info(f"lock {self.namespace}/{self.name}: taking over from "
                         f"{holder.describe()}, whose lease expired")
        try:
            api.replace_namespaced_lease(self.name, self.namespace,
                                         self._body(lease.metadata.resource_version, None))
        except ApiException as e:
            if e.status == 409:  # lost a race for it
                return Holder("(another command, just now)", datetime.now(UTC), self.seconds)
            raise
        return None

    def acquire(self, timeout: float) -> None:
        from kubernetes.client.exceptions import ApiException

        try:
            try:
                holder = self.try_acquire()
            except ApiException as e:
                if e.status != 404:  # 404 on create: the namespace does not exist yet
                    raise
                self._ensure_namespace()
                holder = self.try_acquire()
            if holder is not None:
                progress = console.Progress(
                    f"waiting for the release lock {self.namespace}/{self.name}, held by "
                    f"{holder.describe()}")
                deadline = time.monotonic() + timeout
                while holder is not None:
                    if time.monotonic() >= deadline:
                        progress.done("gave up")
                        raise InfraError(
                            f"another release command holds the lock of {self.name} in "
                            f"{self.namespace}: {holder.describe()}; waited {timeout:.0f}s",
                            hint="wait for it to finish, or raise --lock-timeout")
                    progress.tick(f"held by {holder.describe()}")
                    time.sleep(min(1.0, max(deadline - time.monotonic(), 0.05)))
                    holder = self.try_acquire()
                progress.done("acquired")
        except kube.api_errors() as e:
            raise kube.unreachable(e, f"taking the release lock {self.name}") from e
        self._thread = threading.Thread(target=self._renew, name="lease-renewal", daemon=True)
        self._thread.start()

    def _renew(self) -> None:

        while not self._stop.wait(self.renew_every):
            try:
                api = self._coordination()
                lease = api.read_namespaced_lease(self.name, self.namespace)
                if lease.spec.holder_identity != self.identity:
                    console.info(f"lock {self.name}: lost to {lease.spec.holder_identity}")
                    return
                lease.spec.renew_time = datetime.now(UTC)
                api.replace_namespaced_lease(self.name, self.namespace, lease)
            except kube.api_errors() as e:  # the next renewal may work
                console.info(f"lock {self.name}: renewal failed ({str(e).splitlines()[0]})")

    def abort_requested(self) -> str | None:
        """Who asked the holder to abort, or None. A failed read is no request."""
        try:
            lease = self._coordination().read_namespaced_lease(self.name, self.namespace)
        except kube.api_errors():
            return None
        annotations = lease.metadata.annotations or {}
        if lease.spec.holder_identity != self.identity:
            return None
        return annotations.get(ABORT_ANNOTATION) or None

    def request_abort(self) -> Holder | None:
        """Ask a live holder to abort (annotate its Lease); the holder asked, or None when
        nobody holds the lock."""
        from kubernetes.client.exceptions import ApiException

        api = self._coordination()
        try:
            lease = api.read_namespaced_lease(self.name, self.namespace)
        except ApiException as e:
            if e.status == 404:
                return None
            raise kube.unreachable(e, f"reading the release lock {self.name}") from e
        except kube.api_errors() as e:
            raise kube.unreachable(e, f"reading the release lock {self.name}") from e
        holder = _holder(lease)
        if holder.expired:
            return None
        body: Any = {"metadata": {"annotations": {ABORT_ANNOTATION: self.identity.rsplit(
            " #", 1)[0]}}}
        try:
            api.patch_namespaced_lease(self.name, self.namespace, body,
                                       _content_type="application/merge-patch+json")
        except kube.api_errors() as e:
            raise kube.unreachable(e, f"asking the holder of {self.name} to abort") from e
        return holder

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        try:
            api = self._coordination()
            lease = api.read_namespaced_lease(self.name, self.namespace)
            if lease.spec.holder_identity == self.identity:
                lease.spec.holder_identity = None
                lease.metadata.annotations = {k: v for k, v in (
                    lease.metadata.annotations or {}).items() if k != ABORT_ANNOTATION} or None
                lease.spec.renew_time = None
                lease.spec.acquire_time = None
                api.replace_namespaced_lease(self.name, self.namespace, lease)
        except kube.api_errors():  # it expires on its own
            pass


def _micro(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@contextmanager
def held(api: Any, namespace: str, release: str, who: str, timeout: float) -> Iterator[Lock]:
    lock = Lock(api, namespace, release, who)
    lock.acquire(timeout)
    try:
        yield lock
    finally:
        lock.release()
