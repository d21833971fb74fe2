"""Run the control plane as local processes: etcd, kube-apiserver, kube-controller-manager,
kube-scheduler and kwok, all on 127.0.0.1 with ports chosen at start.

Everything lives in <run_dir>/cluster/: pki/, kubeconfigs, <component>.log, etcd data, and
cluster.json (pids, ports, binaries) so another process can find and stop what was started.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import requests

from testbed import state
from testbed.cluster import certs, kwok_config, nodes

# start order; stopped in reverse
PROCESSES = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")
CLUSTER_NAME = "modelship-testbed"


def cluster_dir(run_dir: Path) -> Path:
    return run_dir / "cluster"


def _state_file(run_dir: Path) -> Path:
    return cluster_dir(run_dir) / "cluster.json"


def load(run_dir: Path) -> dict[str, Any]:
    try:
        return json.loads(_state_file(run_dir).read_text())
    except (OSError, ValueError):
        return {}


def _save(run_dir: Path, current: dict[str, Any]) -> None:
    path = _state_file(run_dir)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(current, indent=2))
    tmp.replace(path)


def env_of(run_dir: Path) -> dict[str, str]:
    directory = cluster_dir(run_dir)
    return {"KUBECONFIG": str(directory / "kubeconfig"),
            "MODELSHIP_TEST_BIN": str(directory / "bin")}


def running(run_dir: Path) -> bool:
    """All processes of a previous `up` are alive and the API server is ready."""
    current = load(run_dir)
    pids, binaries = current.get("pids", {}), current.get("binaries", {})
    if set(pids) != set(PROCESSES):
        return False
    if not all(state.runs(pids[name], binaries[name]) for name in PROCESSES):
        return False
    try:
        return _api_ready(cluster_dir(run_dir), current["ports"]["apiserver"])
    except requests.RequestException:
        return False


def rss_bytes(run_dir: Path) -> dict[str, int]:
    """Resident memory of each control-plane process."""
    out = {}
    for name, pid in load(run_dir).get("pids", {}).items():
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                out[name] = int(line.split()[1]) * 1024
    return out


def _get(url: str, **kwargs: Any) -> requests.Response:
    """GET on 127.0.0.1, never through an HTTP(S)_PROXY from the environment."""
    with requests.Session() as session:
        session.trust_env = False
        return session.get(url, **kwargs)


def _api_ready(directory: Path, port: int) -> bool:
    pki = certs.Pki(directory / "pki")
    answer = _get(f"https://127.0.0.1:{port}/readyz", timeout=3,
                  cert=(str(pki.cert("admin")), str(pki.key("admin"))),
                  verify=str(pki.cert("ca")))
    return answer.status_code == 200


def _etcd_ready(port: int) -> bool:
    answer = _get(f"http://127.0.0.1:{port}/health", timeout=3)
    return answer.status_code == 200 and answer.json().get("health") == "true"


def _argv(name: str, binary: str, directory: Path, pki: certs.Pki,
          ports: dict[str, int]) -> list[str]:
    etcd_url = f"http://127.0.0.1:{ports['etcd']}"
    peer_url = f"http://127.0.0.1:{ports['etcd-peer']}"
    if name == "etcd":
        return [binary, "--name=testbed", f"--data-dir={directory / 'etcd'}",
                f"--listen-client-urls={etcd_url}", f"--advertise-client-urls={etcd_url}",
                f"--listen-peer-urls={peer_url}", f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=testbed={peer_url}", "--initial-cluster-state=new",
                "--log-level=warn",
                # a throwaway test cluster: durability is not worth the fsync latency
                "--unsafe-no-fsync"]
    if name == "kube-apiserver":
        return [binary, f"--etcd-servers={etcd_url}",
                "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
                f"--secure-port={ports['apiserver']}",
                f"--tls-cert-file={pki.cert('apiserver')}",
                f"--tls-private-key-file={pki.key('apiserver')}",
                f"--client-ca-file={pki.cert('ca')}",
                f"--service-account-key-file={pki.sa_public}",
                f"--service-account-signing-key-file={pki.sa_private}",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-cluster-ip-range={certs.SERVICE_CIDR}",
                # Node: the real node's kubelet (system:node:<name>) may read its own pods
                # and the secrets they use (imagePullSecrets), as in a real cluster
                "--authorization-mode=Node,RBAC", "--allow-privileged=true",
                # `kubectl logs/exec` on the real node: reach its kubelet at the node's
                # address, as a client the kubelet trusts, checking its serving certificate
                "--kubelet-preferred-address-types=InternalIP,Hostname",
                f"--kubelet-client-certificate={pki.cert('kubelet-client')}",
                f"--kubelet-client-key={pki.key('kubelet-client')}",
                f"--kubelet-certificate-authority={pki.cert('ca')}",
                # the loopback address may not be a Service endpoint; nothing in the test
                # bed reaches the API through the `kubernetes` Service anyway
                "--endpoint-reconciler-type=none",
                "--profiling=false"]
    if name == "kube-controller-manager":
        return [binary, f"--kubeconfig={directory / 'controller-manager.kubeconfig'}",
                "--bind-address=127.0.0.1", f"--secure-port={ports['controller-manager']}",
                "--leader-elect=false", f"--cluster-name={CLUSTER_NAME}",
                f"--service-account-private-key-file={pki.sa_private}",
                f"--root-ca-file={pki.cert('ca')}", "--use-service-account-credentials=true",
                f"--cluster-signing-cert-file={pki.cert('ca')}",
                f"--cluster-signing-key-file={pki.key('ca')}"]
    if name == "kube-scheduler":
        return [binary, f"--kubeconfig={directory / 'scheduler.kubeconfig'}",
                "--bind-address=127.0.0.1", f"--secure-port={ports['scheduler']}",
                "--leader-elect=false"]
    if name == "kwok":
        return [binary, f"--kubeconfig={directory / 'kubeconfig'}",
                f"--config={directory / 'kwok.yaml'}",
                "--manage-nodes-with-annotation-selector="
                f"{kwok_config.MANAGED_ANNOTATION}={kwok_config.MANAGED_VALUE}",
                f"--cidr={kwok_config.POD_CIDR}",
                # renew node Leases like a kubelet; without them the node lifecycle controller
                # marks the fake nodes NotReady about once a minute
                "--node-lease-duration-seconds=40"]
    raise ValueError(name)


def _check_alive(name: str, pid: int, log: Path) -> None:
    if not state.alive(pid):
        state.reap(pid)
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        msg = f"{name} exited; the end of {log}:\n{tail}"
        raise RuntimeError(msg)


def _wait_while_alive(name: str, pid: int, log: Path, ready: Any, timeout: float) -> None:
    """state.wait_for, but a process that exits fails at once with its log's last lines."""
    def check() -> bool:
        if not state.alive(pid):
            return True  # stop waiting; _check_alive says why
        return bool(ready())

    try:
        state.wait_for(check, f"{name} (log: {log})", timeout=timeout)
    finally:
        _check_alive(name, pid, log)


def _wait_kube(kubeconfig: Path) -> None:
    """Create the fake nodes; wait until they are Ready and pods can be made in `default`."""
    from kubernetes import client, config

    api = config.new_client_from_config(config_file=str(kubeconfig))
    try:
        state.wait_for(lambda: nodes.ensure(api) is None, "node objects", timeout=30)
        state.wait_for(lambda: nodes.all_ready(api), "kwok nodes Ready", timeout=60)
        core = client.CoreV1Api(api)
        state.wait_for(lambda: core.read_namespaced_service_account(
            "default", "default", _request_timeout=5), "default ServiceAccount", timeout=60)
    finally:
        api.close()


def start(run_dir: Path, binaries: dict[str, Path]) -> dict[str, str]:
    directory = cluster_dir(run_dir)
    directory.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(directory / "etcd", ignore_errors=True)  # every start is a fresh cluster
    pki = certs.ensure(directory / "pki")
    ports = {name: state.free_port() for name in
             ("etcd", "etcd-peer", "apiserver", "controller-manager", "scheduler")}
    server = f"https://127.0.0.1:{ports['apiserver']}"
    certs.write_kubeconfig(pki, "admin", server, directory / "kubeconfig")
    for client in ("controller-manager", "scheduler"):
        certs.write_kubeconfig(pki, client, server, directory / f"{client}.kubeconfig")
    kwok_config.write(directory / "kwok.yaml")
    bin_dir = directory / "bin"
    bin_dir.mkdir(exist_ok=True)
    for tool in ("helm", "kubectl"):
        link = bin_dir / tool
        link.unlink(missing_ok=True)
        link.symlink_to(binaries[tool])

    current: dict[str, Any] = {"ports": ports, "pids": {},
                               "binaries": {n: str(binaries[n]) for n in PROCESSES}}
    started = time.monotonic()
    for name in PROCESSES:
        argv = _argv(name, str(binaries[name]), directory, pki, ports)
        log = directory / f"{name}.log"
        pid = current["pids"][name] = state.start_daemon(argv, log)
        _save(run_dir, current)
        if name == "etcd":
            _wait_while_alive(name, pid, log, lambda: _etcd_ready(ports["etcd"]), 30)
        elif name == "kube-apiserver":
            _wait_while_alive(name, pid, log, lambda: _api_ready(directory, ports["apiserver"]),
                              90)
    _wait_kube(directory / "kubeconfig")
    for name in PROCESSES:
        _check_alive(name, current["pids"][name], directory / f"{name}.log")
    current["started_seconds"] = round(time.monotonic() - started, 1)
    _save(run_dir, current)
    state.say(f"cluster up in {current['started_seconds']}s: {server} "
              f"(KUBECONFIG={directory / 'kubeconfig'})")
    return env_of(run_dir)


def stop(run_dir: Path) -> None:
    current = load(run_dir)
    pids, binaries = current.get("pids", {}), current.get("binaries", {})
    for name in reversed(PROCESSES):
        pid = pids.get(name)
        if pid and state.runs(pid, binaries.get(name, "")):
            state.stop(pid)
        elif pid:
            state.reap(pid)
    shutil.rmtree(cluster_dir(run_dir) / "etcd", ignore_errors=True)
    _state_file(run_dir).unlink(missing_ok=True)
