"""The real node's configuration files: containerd (its own instance), CNI, kubelet,
kube-proxy and CoreDNS. Every path points into the node's directory under the run dir.

Addresses: the node's IP lives on `lo` (this kernel has no `dummy` links); its pods get
addresses from POD_SUBNET on the bridge BRIDGE; CoreDNS answers cluster names on the node IP.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from testbed.cluster import certs

NODE_NAME = "node-0"
NODE_IP = "10.245.255.1"
POD_SUBNET = "10.245.0.0/24"
BRIDGE = "msnode0"
CLUSTER_DOMAIN = "cluster.local"
# addresses of the fake nodes and their pods (testbed.cluster.nodes, kwok's --cidr): nothing
# answers there, so the node makes them unreachable rather than let a packet for them leave
# the machine (a ClusterIP over fake pods, a route to one)
FAKE_CIDRS = ("10.240.0.0/16", "10.244.0.0/16")
PAUSE_IMAGE = "modelship-testbed/pause:1"
CNI_BIN = "/usr/lib/cni"  # Debian's containernetworking-plugins


@dataclass(frozen=True)
class Layout:
    """Where the node keeps its files (under <run_dir>/node)."""

    root: Path

    @property
    def containerd_root(self) -> Path:
        return self.root / "containerd" / "root"

    @property
    def containerd_state(self) -> Path:
        return self.root / "containerd" / "state"

    @property
    def containerd_socket(self) -> Path:
        return self.root / "containerd" / "containerd.sock"

    @property
    def containerd_config(self) -> Path:
        return self.root / "containerd" / "config.toml"

    @property
    def runc_root(self) -> Path:
        """runc's state of our containers (the shim's default is the host-wide
        /run/containerd/runc, which `down` could not tell from another containerd's)."""
        return self.root / "containerd" / "runc"

    @property
    def registry_hosts(self) -> Path:
        return self.root / "containerd" / "certs.d"

    @property
    def cni_conf(self) -> Path:
        return self.root / "cni" / "net.d"

    @property
    def cni_data(self) -> Path:
        return self.root / "cni" / "data"

    @property
    def kubelet_root(self) -> Path:
        return self.root / "kubelet"

    @property
    def pod_logs(self) -> Path:
        return self.root / "pod-logs"

    @property
    def own_dirs(self) -> list[Path]:
        """Directories whose mounts are all ours (unmounted by `down`)."""
        return [self.root]


def containerd_toml(layout: Layout) -> str:
    """containerd 1.6 (Debian) as a separate instance: its own root, state and socket.

    Root: runc keeps its container state under our directory, not /run/containerd/runc.
    restrict_oom_score_adj: root here lacks CAP_SYS_RESOURCE, so runc cannot raise
    oom_score_adj and fails every sandbox without it. config_path: per-registry hosts.toml
    (the test registry speaks plain HTTP). netns_mounts_under_state_dir: pod network
    namespaces are mounted under our state dir, not /var/run/netns.
    """
    return f"""\
version = 2
root = "{layout.containerd_root}"
state = "{layout.containerd_state}"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
                    "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.devmapper",
                    "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "{layout.containerd_socket}"

[ttrpc]
  address = "{layout.containerd_socket}.ttrpc"

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "{layout.root / 'containerd' / 'opt'}"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{PAUSE_IMAGE}"
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  enable_selinux = false
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        Root = "{layout.runc_root}"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{CNI_BIN}"
    conf_dir = "{layout.cni_conf}"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "{layout.registry_hosts}"
"""


def registry_hosts_toml(host: str) -> str:
    """containerd's hosts.toml for a plain-HTTP registry (the test registry)."""
    return f"""\
server = "http://{host}"

[host."http://{host}"]
  capabilities = ["pull", "resolve"]
"""


def cni_conflist(layout: Layout) -> str:
    """bridge + host-local for addresses; the firewall plugin lets pod traffic through the
    FORWARD chain, whose policy Docker sets to DROP. No masquerading: pods only talk to
    the node, each other and Services."""
    return json.dumps({
        "cniVersion": "1.0.0",
        "name": "modelship-testbed",
        "plugins": [
            {"type": "bridge", "bridge": BRIDGE, "isGateway": True, "ipMasq": False,
             "hairpinMode": True,  # a pod reaching itself through its Service
             "ipam": {"type": "host-local", "ranges": [[{"subnet": POD_SUBNET}]],
                      "routes": [{"dst": "0.0.0.0/0"}], "dataDir": str(layout.cni_data)}},
            {"type": "firewall", "backend": "iptables"},
        ],
    }, indent=2)


def kubelet_yaml(layout: Layout, pki: certs.Pki, port: int, healthz_port: int) -> str:
    config: dict[str, Any] = {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        # this host: cgroup v1 without systemd managing it, swap allowed
        "failCgroupV1": False,
        "cgroupDriver": "cgroupfs",
        "failSwapOn": False,
        "containerRuntimeEndpoint": f"unix://{layout.containerd_socket}",
        "address": NODE_IP,
        "port": port,
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": healthz_port,
        "tlsCertFile": str(pki.cert("kubelet")),
        "tlsPrivateKeyFile": str(pki.key("kubelet")),
        "authentication": {"anonymous": {"enabled": False}, "webhook": {"enabled": False},
                           "x509": {"clientCAFile": str(pki.cert("ca"))}},
        # only clients with a certificate of the test bed's CA get this far
        "authorization": {"mode": "AlwaysAllow"},
        "clusterDomain": CLUSTER_DOMAIN,
        "clusterDNS": [NODE_IP],
        "podLogsDir": str(layout.pod_logs),
        "volumePluginDir": str(layout.root / "volume-plugins"),
        "serializeImagePulls": False,
        # a shared build machine's disk fills and empties; never evict test pods for it
        "evictionHard": {"memory.available": "100Mi", "nodefs.available": "1%",
                         "nodefs.inodesFree": "1%", "imagefs.available": "1%"},
        "imageGCHighThresholdPercent": 99,
        "imageGCLowThresholdPercent": 98,
        "rotateCertificates": False,
        "serverTLSBootstrap": False,
        "shutdownGracePeriod": "0s",
        "nodeStatusReportFrequency": "10s",
        "syncFrequency": "10s",
    }
    return yaml.safe_dump(config, sort_keys=False)


def kube_proxy_yaml(kubeconfig: Path, healthz_port: int, metrics_port: int) -> str:
    """iptables mode. conntrack 0 and the nodePort and localhost settings keep kube-proxy
    from changing host sysctls (nf_conntrack_max, timeouts, route_localnet)."""
    config = {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "clientConnection": {"kubeconfig": str(kubeconfig)},
        "hostnameOverride": NODE_NAME,
        "mode": "iptables",
        "clusterCIDR": POD_SUBNET,
        "bindAddress": NODE_IP,
        "healthzBindAddress": f"127.0.0.1:{healthz_port}",
        "metricsBindAddress": f"127.0.0.1:{metrics_port}",
        "nodePortAddresses": [f"{NODE_IP}/32"],
        "conntrack": {"maxPerCore": 0, "min": 0, "tcpEstablishedTimeout": "0s",
                      "tcpCloseWaitTimeout": "0s"},
        "iptables": {"localhostNodePorts": False, "syncPeriod": "30s", "minSyncPeriod": "0s"},
    }
    return yaml.safe_dump(config, sort_keys=False)


def corefile(kubeconfig: Path, health_port: int) -> str:
    """CoreDNS answers the cluster domain (Services, pods) on the node IP; other names are
    refused (no upstream: nothing here may leave the machine)."""
    return f"""\
{CLUSTER_DOMAIN}:53 {{
    bind {NODE_IP}
    errors
    health 127.0.0.1:{health_port}
    kubernetes {CLUSTER_DOMAIN} {{
        kubeconfig {kubeconfig}
        pods insecure
    }}
}}
"""
