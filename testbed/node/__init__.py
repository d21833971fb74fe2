"""A real node for the test bed's control plane: containerd (its own instance), CNI
(bridge + host-local + firewall), kubelet, kube-proxy and CoreDNS as local processes, so pods
on it run the images `modelship build` pushed, Services spread requests over them and
`helm test` pods find Services by name. Fake (kwok) nodes stay for GPU scheduling and scale.

Only one real node can run on a host (kubelet's cgroups and fixed paths are host-wide): a
marker file in the temp dir names the run dir that owns it. `up` records the host's state
first (testbed.node.host) and `down` puts it back.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

from testbed import state
from testbed.cluster import certs
from testbed.node import config, host, pause_image, shims

PROCESSES = ("containerd", "kubelet", "kube-proxy", "coredns")
BINARIES = ("kubelet", "kube-proxy", "coredns", "pause")  # built by testbed.cluster.builder
TOOLS = {"containerd": "docker.io (it brings containerd)", "ctr": "docker.io",
         "runc": "docker.io", "containerd-shim-runc-v2": "docker.io",
         "iptables": "iptables", "ip": "iproute2"}
OWNER = Path(tempfile.gettempdir()) / "modelship-testbed-node.owner"

__all__ = ["down", "running", "trust_registry", "up"]


def node_dir(run_dir: Path) -> Path:
    return run_dir / "node"


def _layout(run_dir: Path) -> config.Layout:
    return config.Layout(node_dir(run_dir))


def _state_file(run_dir: Path) -> Path:
    return run_dir / "node.json"  # outside node/, which `down` deletes


def load(run_dir: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(_state_file(run_dir).read_text())
    except (OSError, ValueError):
        return {}
    return data


def _save(run_dir: Path, current: dict[str, Any]) -> None:
    path = _state_file(run_dir)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(current, indent=2))
    tmp.replace(path)


def _owner() -> str:
    try:
        return OWNER.read_text().strip()
    except OSError:
        return ""


def running(run_dir: Path) -> bool:
    current = load(run_dir)
    pids, binaries = current.get("pids", {}), current.get("binaries", {})
    if set(pids) != set(PROCESSES) or _owner() != str(run_dir):
        return False
    if not all(state.runs(pids[n], binaries[n]) for n in PROCESSES):
        return False
    try:
        return _get(f"http://127.0.0.1:{current['ports']['kubelet-healthz']}/healthz").ok
    except requests.RequestException:
        return False


def rss_bytes(run_dir: Path) -> dict[str, int]:
    out = {}
    for name, pid in load(run_dir).get("pids", {}).items():
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    out[name] = int(line.split()[1]) * 1024
    return out


def _get(url: str) -> requests.Response:
    with requests.Session() as session:
        session.trust_env = False  # 127.0.0.1 never through a proxy
        return session.get(url, timeout=3)


def _check_prerequisites(binaries: dict[str, Path]) -> None:
    if not host.is_root():
        raise RuntimeError("the real node needs root (kubelet, containerd, iptables)")
    missing = [f"{tool} ({package})" for tool, package in TOOLS.items() if not shutil.which(tool)]
    if not Path(config.CNI_BIN, "bridge").exists():
        missing.append(f"{config.CNI_BIN}/bridge (containernetworking-plugins)")
    if missing:
        raise RuntimeError("the real node needs: " + ", ".join(missing)
                           + "; run scripts/setup (apt-get install)")
    for name in BINARIES:
        if name not in binaries:
            raise RuntimeError(f"no {name} binary was built")


def _claim(run_dir: Path) -> None:
    owner = _owner()
    if owner and owner != str(run_dir) and running(Path(owner)):
        msg = (f"a real node of another test bed (run dir {owner}) runs on this host and "
               "only one can: stop it with MODELSHIP_TESTBED_DIR={owner} scripts/testbed down")
        raise RuntimeError(msg.replace("{owner}", owner))
    OWNER.write_text(str(run_dir))


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check)


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def trust_registry(run_dir: Path, registry_host: str) -> None:
    """Let containerd pull from the test registry over plain HTTP (read at every pull)."""
    layout = _layout(run_dir)
    _write(layout.registry_hosts / registry_host / "hosts.toml",
           config.registry_hosts_toml(registry_host))


def _ctr(layout: config.Layout, *args: str, check: bool = True,
         ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ctr", "--address", str(layout.containerd_socket),
                           "--namespace", "k8s.io", *args],
                          capture_output=True, text=True, check=check, timeout=120)


def _api_client(kubeconfig: Path) -> Any:
    from kubernetes import config as kube_config

    return kube_config.new_client_from_config(
        config_file=str(kubeconfig))


def _node_ready(api_client: Any) -> bool:
    from kubernetes import client

    node: Any = client.CoreV1Api(api_client).read_node(config.NODE_NAME, _request_timeout=5)
    ready = any(c.type == "Ready" and c.status == "True" for c in node.status.conditions or [])
    lifecycle = [t for t in node.spec.taints or [] if t.key.startswith("node.kubernetes.io/")]
    return ready and not lifecycle


def _write_files(run_dir: Path, pki: certs.Pki, server: str, ports: dict[str, int]) -> None:
    layout = _layout(run_dir)
    directory = layout.root
    certs.issue_client(pki, "node", f"system:node:{config.NODE_NAME}", "system:nodes")
    certs.issue_server(pki, "kubelet", config.NODE_NAME, [config.NODE_NAME], [config.NODE_IP])
    certs.write_kubeconfig(pki, "node", server, directory / "kubelet.kubeconfig")
    certs.write_kubeconfig(pki, "kube-proxy", server, directory / "kube-proxy.kubeconfig")
    # CoreDNS reads Services and EndpointSlices cluster-wide: the admin identity
    certs.write_kubeconfig(pki, "admin", server, directory / "coredns.kubeconfig")
    _write(layout.containerd_config, config.containerd_toml(layout))
    _write(layout.cni_conf / "10-modelship.conflist", config.cni_conflist(layout))
    _write(directory / "kubelet.yaml",
           config.kubelet_yaml(layout, pki, ports["kubelet"], ports["kubelet-healthz"]))
    _write(directory / "kube-proxy.yaml",
           config.kube_proxy_yaml(directory / "kube-proxy.kubeconfig",
                                  ports["kube-proxy-healthz"], ports["kube-proxy-metrics"]))
    _write(directory / "Corefile",
           config.corefile(directory / "coredns.kubeconfig", ports["coredns-health"]))


def _argv(name: str, binary: str, layout: config.Layout) -> list[str]:
    directory = layout.root
    if name == "containerd":
        return [binary, "--config", str(layout.containerd_config)]
    if name == "kubelet":
        return [binary, f"--config={directory / 'kubelet.yaml'}",
                f"--kubeconfig={directory / 'kubelet.kubeconfig'}",
                f"--root-dir={layout.kubelet_root}", f"--cert-dir={directory / 'kubelet-pki'}",
                f"--hostname-override={config.NODE_NAME}", f"--node-ip={config.NODE_IP}",
                "--node-labels=type=real", "--v=1"]
    if name == "kube-proxy":
        return [binary, f"--config={directory / 'kube-proxy.yaml'}", "--v=1"]
    if name == "coredns":
        return [binary, "-conf", str(directory / "Corefile")]
    raise ValueError(name)


def _start(run_dir: Path, current: dict[str, Any], name: str, ready: Any,
           timeout: float) -> None:
    layout = _layout(run_dir)
    log = layout.root / f"{name}.log"
    pid = state.start_daemon(_argv(name, current["binaries"][name], layout), log)
    current["pids"][name] = pid
    _save(run_dir, current)

    def check() -> bool:
        return not state.alive(pid) or bool(ready())

    state.wait_for(check, f"{name} (log: {log})", timeout=timeout)
    if not state.alive(pid):
        state.reap(pid)
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
        raise RuntimeError(f"{name} exited; the end of {log}:\n{tail}")


def up(run_dir: Path, binaries: dict[str, Path], kubeconfig: Path, pki: certs.Pki,
       registry_host: str | None = None) -> None:
    """Start the node (or find it running); stop() first undoes a half-started one."""
    if running(run_dir):
        if registry_host:
            trust_registry(run_dir, registry_host)
        return
    _check_prerequisites(binaries)
    stop(run_dir)
    _claim(run_dir)
    started = time.monotonic()
    current: dict[str, Any] = {
        # before anything on the host changes
        "snapshot": host.snapshot([str(d) for d in _layout(run_dir).own_dirs]),
        "lo_address_added": False,
        "pids": {},
        "binaries": {**{n: str(binaries[n]) for n in PROCESSES if n != "containerd"},
                     "containerd": shutil.which("containerd")},
        "ports": {p: state.free_port() for p in ("kubelet", "kubelet-healthz",
                                                 "kube-proxy-healthz", "kube-proxy-metrics",
                                                 "coredns-health")},
    }
    _save(run_dir, current)
    layout = _layout(run_dir)
    layout.root.mkdir(parents=True, exist_ok=True)
    server = yaml_server(kubeconfig)
    _write_files(run_dir, pki, server, current["ports"])
    if registry_host:
        trust_registry(run_dir, registry_host)
    if config.NODE_IP not in _ip("-4", "-o", "addr", "show", "dev", "lo").stdout:
        _ip("addr", "add", f"{config.NODE_IP}/32", "dev", "lo")
        current["lo_address_added"] = True
        _save(run_dir, current)
    for cidr in config.FAKE_CIDRS:
        if not _ip("-4", "route", "show", cidr).stdout.strip():
            _ip("route", "add", "unreachable", cidr)
            current.setdefault("routes_added", []).append(cidr)
            _save(run_dir, current)

    _start(run_dir, current, "containerd",
           lambda: _ctr(layout, "version", check=False).returncode == 0, timeout=30)
    archive = pause_image.write_archive(binaries["pause"], config.PAUSE_IMAGE,
                                        layout.root / "pause.tar")
    _ctr(layout, "images", "import", str(archive))

    api = _api_client(kubeconfig)
    try:
        _start(run_dir, current, "kubelet", lambda: _node_ready(api), timeout=90)
    finally:
        api.close()
    _start(run_dir, current, "kube-proxy", lambda: _get(
        f"http://127.0.0.1:{current['ports']['kube-proxy-healthz']}/healthz").ok, timeout=60)
    _start(run_dir, current, "coredns", lambda: _get(
        f"http://127.0.0.1:{current['ports']['coredns-health']}/health").ok, timeout=30)
    current["started_seconds"] = round(time.monotonic() - started, 1)
    _save(run_dir, current)
    state.say(f"real node {config.NODE_NAME} ({config.NODE_IP}) Ready in "
              f"{current['started_seconds']}s")


def yaml_server(kubeconfig: Path) -> str:
    import yaml

    return str(yaml.safe_load(kubeconfig.read_text())["clusters"][0]["cluster"]["server"])


def _tasks(layout: config.Layout) -> set[str]:
    return set(_ctr(layout, "tasks", "ls", "-q", check=False).stdout.split())


def _kill_containers(layout: config.Layout) -> None:
    """Kill every container of the node through containerd, so their shims exit too (the
    CRI plugin deletes a task once it has exited; we delete the ones it has not yet)."""
    killed = _tasks(layout)
    for task in killed:
        _ctr(layout, "tasks", "kill", "--signal", "SIGKILL", task, check=False)
    deadline = time.monotonic() + 15
    while (left := killed & _tasks(layout)) and time.monotonic() < deadline:
        for task in left:
            _ctr(layout, "tasks", "delete", task, check=False)
        time.sleep(0.1)


def _forget_node(kubeconfig: Path | None) -> None:
    """Delete the Node object (the control plane may stay up: a later `up` registers it
    anew and its pods are not left Terminating forever)."""
    if not kubeconfig or not kubeconfig.is_file():
        return
    from kubernetes import client

    with contextlib.suppress(Exception):  # the API server may be gone already
        api = _api_client(kubeconfig)
        try:
            client.CoreV1Api(api).delete_node(config.NODE_NAME, _request_timeout=5)
        finally:
            api.close()


def stop(run_dir: Path, kubeconfig: Path | None = None) -> list[str]:
    """Stop the node and put the host back as `up` found it. Returns what could not be put
    back (also said on stderr); a no-op without a recorded node."""
    current = load(run_dir)
    if not current:
        return []
    layout = _layout(run_dir)
    pids, binaries = current.get("pids", {}), current.get("binaries", {})
    for name in ("coredns", "kube-proxy", "kubelet"):
        if state.runs(pids.get(name), binaries.get(name, "")):
            state.stop(pids[name])
    if state.runs(pids.get("containerd"), binaries.get("containerd", "")):
        _kill_containers(layout)
        state.stop(pids["containerd"])
    shims.kill_ours(layout.containerd_socket)  # those that outlived containerd
    _forget_node(kubeconfig)
    problems = host.unmount_under([str(d) for d in layout.own_dirs])
    if _ip("link", "show", config.BRIDGE, check=False).returncode == 0:
        _ip("link", "delete", config.BRIDGE, check=False)
    if current.get("lo_address_added"):
        _ip("addr", "del", f"{config.NODE_IP}/32", "dev", "lo", check=False)
    for cidr in current.get("routes_added", []):
        _ip("route", "del", "unreachable", cidr, check=False)
    if "snapshot" in current:
        problems += host.restore(current["snapshot"])
    shutil.rmtree(layout.root, ignore_errors=True)
    if _owner() == str(run_dir):
        OWNER.unlink(missing_ok=True)
    _state_file(run_dir).unlink(missing_ok=True)
    for problem in problems:
        state.say(f"node down: could not put back {problem}")
    return problems
