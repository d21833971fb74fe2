"""What the real node changes on the host outside its run directory, and how `down` puts
it back.

kubelet, kube-proxy, containerd and the CNI plugins are made for a machine they own: kubelet
sets kernel sysctls and writes /var/lib/kubelet/{pki,device-plugins} and /var/log/containers
whatever its root directory is, creates cgroups, and with kube-proxy and the CNI firewall
plugin adds iptables chains; the sandboxes leave mounts behind. `snapshot()` records all of
that before `up`; `restore()` removes what is new and ours and sets the sysctls back.

"Ours" is deliberately narrow, because other programs (Docker above all) change the same
tables at the same time: iptables chains named KUBE-* or CNI-* and the rules that jump to
them; mounts under the node's own directories; the paths and cgroups listed here.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from testbed.node import shims

SYSCTLS = (
    # kubelet sets these three at start (its "kernel defaults")
    "vm.overcommit_memory", "kernel.panic", "kernel.panic_on_oops",
    # the bridge plugin (isGateway) turns forwarding on; kube-proxy may set route_localnet
    "net.ipv4.ip_forward", "net.ipv4.conf.all.route_localnet",
    # kube-proxy's conntrack settings (set to 0 = leave alone, recorded all the same)
    "net.netfilter.nf_conntrack_max", "net.netfilter.nf_conntrack_tcp_timeout_established",
    "net.netfilter.nf_conntrack_tcp_timeout_close_wait",
)
# written by kubelet or the CNI library at fixed places, whatever the configuration says
PATHS = ("/var/lib/kubelet", "/var/log/containers", "/var/log/pods", "/var/lib/cni",
         "/etc/cni", "/opt/cni", "/etc/kubernetes", "/usr/libexec/kubernetes")
# shared with every containerd on the host (its shims' sockets, Docker's included): removed
# only when they did not exist before and are empty again (the node keeps runc's state in
# its own directory, so only its shims' sockets ever land here)
SHARED_DIRS = ("/run/containerd/s", "/run/containerd")
# where kubelet and containerd mount things when left to their defaults
MOUNT_DIRS = ("/var/lib/kubelet", "/run/netns", "/var/run/netns", "/run/containerd",
              "/var/lib/containerd")
CGROUP_ROOT = Path("/sys/fs/cgroup")
CGROUP_NAMES = ("kubepods", "kubepods.slice")  # kubelet's pod cgroups (cgroupfs driver)
CHAIN_PREFIXES = ("KUBE-", "CNI-")
IPTABLES = (("iptables-save", "iptables-restore"), ("ip6tables-save", "ip6tables-restore"))


def _sysctl_path(name: str) -> Path:
    return Path("/proc/sys") / name.replace(".", "/")


def sysctls() -> dict[str, str]:
    out = {}
    for name in SYSCTLS:
        with contextlib.suppress(OSError):
            out[name] = _sysctl_path(name).read_text().strip()
    return out


def _listing(path: Path) -> list[str] | None:
    """The entries under `path` (relative, sorted), or None when it does not exist."""
    if not path.exists() and not path.is_symlink():
        return None
    if not path.is_dir():
        return []
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


def paths() -> dict[str, list[str] | None]:
    return {p: _listing(Path(p)) for p in PATHS}


def shared_dirs(own_dirs: Iterable[str] = ()) -> dict[str, bool]:
    """Which SHARED_DIRS are there for a reason of their own. One that holds nothing but the
    sockets of other containerds' running shims counts as absent: Docker makes and fills
    /run/containerd/s whenever one of its containers runs, whatever the node does."""
    foreign = shims.foreign_sockets(own_dirs)
    return {d: Path(d).is_dir() and not shims.only_sockets(Path(d), foreign)
            for d in SHARED_DIRS}


def cgroups() -> list[str]:
    """Which of kubelet's cgroups exist, per hierarchy (e.g. "memory/kubepods")."""
    found = []
    if CGROUP_ROOT.is_dir():
        for hierarchy in sorted(CGROUP_ROOT.iterdir()):
            found += [f"{hierarchy.name}/{n}" for n in CGROUP_NAMES if (hierarchy / n).is_dir()]
    return found


def mounts(under: Iterable[str] = ()) -> list[str]:
    """Mount points, all of them or only those under the given directories."""
    prefixes = tuple(str(Path(u)).rstrip("/") + "/" for u in under)
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].encode().decode("unicode_escape")
        if not prefixes or (point + "/").startswith(prefixes):
            points.append(point)
    return points


def _ours(chain: str) -> bool:
    return chain.startswith(CHAIN_PREFIXES)


def _jump_target(rule: str) -> str:
    match = re.search(r"\s-[jg]\s+(\S+)", rule)
    return match[1] if match else ""


def parse_iptables_save(text: str) -> dict[str, dict[str, list[str]]]:
    """{table: {"chains": [...], "rules": [...]}} from iptables-save output (sorted; the
    counters on chain lines are dropped). A table with no rules and only built-in chains
    that accept is left out: it filters nothing, exactly as a table never loaded, and the
    kernel keeps it once anything (kubelet's canary chains) used it, so `down` cannot and
    need not take it back."""
    tables: dict[str, dict[str, list[str]]] = {}
    table: dict[str, list[str]] = {}
    inert: dict[str, bool] = {}
    name = ""
    for line in text.splitlines():
        if line.startswith("*"):
            name = line[1:]
            table = tables.setdefault(name, {"chains": [], "rules": []})
            inert.setdefault(name, True)
        elif line.startswith(":"):
            chain, policy = line[1:].split()[:2]
            table["chains"].append(chain)
            inert[name] = inert[name] and policy == "ACCEPT"  # user chains show "-"
        elif line.startswith("-A "):
            table["rules"].append(line)
            inert[name] = False
    for table in tables.values():
        table["chains"].sort()
        table["rules"].sort()
    return {n: t for n, t in tables.items() if not inert[n]}


def iptables_rules(save: str = "iptables-save") -> dict[str, dict[str, list[str]]]:
    """The live rules of one iptables family; {} without the tool."""
    if not shutil.which(save):
        return {}
    result = subprocess.run([save], capture_output=True, text=True, check=False)
    return parse_iptables_save(result.stdout) if result.returncode == 0 else {}


def routes() -> list[str]:
    """IPv4 routes and the addresses on `lo`, without Docker's bridges (other tests make
    and remove Docker networks meanwhile)."""
    lines = []
    for argv in (["ip", "-4", "route", "show", "table", "all"],
                 ["ip", "-o", "addr", "show", "dev", "lo"]):
        result = subprocess.run(argv, capture_output=True, text=True, check=False)
        lines += [" ".join(line.split()) for line in result.stdout.splitlines()
                  if " dev docker" not in line and " dev br-" not in line]
    return sorted(lines)


def snapshot(own_dirs: Iterable[str] = ()) -> dict[str, Any]:
    """Everything `restore` compares against, as JSON-able data; `own_dirs` are the node's
    own directories (their mounts are recorded with the usual places', and shims of a
    containerd there are ours)."""
    own_dirs = list(own_dirs)
    return {
        "mounts": sorted(mounts([*MOUNT_DIRS, *own_dirs])),
        "routes": routes(),
        "sysctls": sysctls(),
        "paths": paths(),
        "cgroups": cgroups(),
        "shared_dirs": shared_dirs(own_dirs),
        "iptables": {save: iptables_rules(save) for save, _ in IPTABLES},
    }


def removal_scripts(before: dict[str, dict[str, list[str]]],
                    now: dict[str, dict[str, list[str]]]) -> dict[str, list[str]]:
    """Per table, the iptables-restore lines that delete the KUBE-*/CNI-* chains and the
    rules jumping into them that were not there before (rules inside those chains go with
    them). Nothing else is touched: Docker's rules change meanwhile."""
    scripts = {}
    for name, table in now.items():
        old = before.get(name, {"chains": [], "rules": []})
        new_chains = [c for c in table["chains"] if _ours(c) and c not in old["chains"]]
        new_jumps = [r for r in table["rules"] if r not in old["rules"]
                     and _ours(_jump_target(r)) and not _ours(r.split()[1])]
        if new_chains or new_jumps:
            scripts[name] = (["-D " + r[len("-A "):] for r in new_jumps]
                             + [f"-F {c}" for c in new_chains] + [f"-X {c}" for c in new_chains])
    return scripts


def _restore_iptables(before: dict[str, dict[str, list[str]]], save: str, restore: str,
                      ) -> list[str]:
    """Apply removal_scripts, one iptables-restore --noflush per table (atomic)."""
    problems = []
    for name, lines in removal_scripts(before, iptables_rules(save)).items():
        script = "\n".join([f"*{name}", *lines, "COMMIT"]) + "\n"
        result = subprocess.run([restore, "--noflush"], input=script, capture_output=True,
                                text=True, check=False)
        if result.returncode != 0:
            problems.append(f"{restore} ({name}): {result.stderr.strip()}")
    return problems


def unmount_under(directories: Iterable[str]) -> list[str]:
    """Unmount everything mounted under these directories, deepest first (lazily when
    busy: a dying container may still hold one for a moment)."""
    problems = []
    for point in sorted(set(mounts(directories)), key=lambda p: -p.count("/")):
        result = subprocess.run(["umount", point], capture_output=True, text=True, check=False)
        if result.returncode != 0:
            lazy = subprocess.run(["umount", "-l", point], capture_output=True, text=True,
                                  check=False)
            if lazy.returncode != 0:
                problems.append(f"umount {point}: {lazy.stderr.strip()}")
    return problems


def _remove_cgroups(before: list[str]) -> list[str]:
    problems = []
    for entry in cgroups():
        if entry in before:
            continue
        top = CGROUP_ROOT / entry
        # a cgroup directory is removed with rmdir, children first; files in it are virtual
        children = sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts))
        for directory in [*children, top]:
            try:
                directory.rmdir()
            except OSError as e:
                problems.append(f"rmdir {directory}: {e}")
    return problems


def _restore_paths(before: dict[str, list[str] | None]) -> list[str]:
    problems = []
    for path_name, listing in before.items():
        path = Path(path_name)
        try:
            if listing is None:
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                elif path.exists() or path.is_symlink():
                    path.unlink()
            elif path.is_dir():
                old = set(listing)
                for entry in sorted(path.rglob("*"), key=lambda p: -len(p.parts)):
                    if str(entry.relative_to(path)) not in old:
                        if entry.is_dir() and not entry.is_symlink():
                            shutil.rmtree(entry)
                        else:
                            entry.unlink()
        except OSError as e:
            problems.append(f"{path}: {e}")
    return problems


def restore(before: dict[str, Any]) -> list[str]:
    """Put back what `snapshot()` recorded, after the node's processes have stopped and its
    mounts are gone. Returns what could not be put back (empty: all of it)."""
    problems = []
    for save, restore_tool in IPTABLES:
        if shutil.which(restore_tool):
            problems += _restore_iptables(before["iptables"].get(save, {}), save, restore_tool)
    problems += _remove_cgroups(before["cgroups"])
    problems += _restore_paths(before["paths"])
    for directory, existed in before["shared_dirs"].items():
        if not existed:
            with contextlib.suppress(OSError):  # not empty: someone else uses it now
                Path(directory).rmdir()
    for name, value in before["sysctls"].items():
        path = _sysctl_path(name)
        try:
            if path.read_text().strip() != value:
                path.write_text(value)
        except OSError as e:
            problems.append(f"sysctl {name}={value}: {e}")
    return problems


def is_root() -> bool:
    return os.geteuid() == 0
