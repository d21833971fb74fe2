"""KUBECONFIG naming several files is merged, as helm and kubectl merge it: a context defined
only in the second file is found. No API call: loading the config does not contact a server."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from modelship.release import kube

FIRST = """
apiVersion: v1
kind: Config
clusters: [{name: one, cluster: {server: "https://127.0.0.1:6443"}}]
users: [{name: one, user: {token: one}}]
contexts: [{name: one, context: {cluster: one, user: one}}]
current-context: one
"""
SECOND = """
apiVersion: v1
kind: Config
clusters: [{name: two, cluster: {server: "https://127.0.0.2:7443"}}]
users: [{name: two, user: {token: two}}]
contexts: [{name: two, context: {cluster: two, user: two}}]
"""


def test_context_from_the_second_kubeconfig_file(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    first.write_text(FIRST)
    second.write_text(SECOND)
    monkeypatch.setenv("KUBECONFIG", os.pathsep.join([str(first), str(second)]))
    api = kube.client("two")
    assert api.configuration.host == "https://127.0.0.2:7443"
    assert kube.client(None).configuration.host == "https://127.0.0.1:6443"
