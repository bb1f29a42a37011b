# Copyright 2026 The cinder-ocfs2 Authors
#
# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.
"""This node's facts: everything status and doctor look at, as one JSON document.

``cinder-ocfs2 doctor --facts`` prints it; doctor compares the facts of
several nodes, so nothing here judges anything.  Each probe degrades to an
``error`` entry instead of failing the whole gathering (a status report must
work on a broken node).
"""

from __future__ import annotations

import dataclasses
import errno
import os
import socket
import stat
from collections.abc import Sequence
from typing import Any

from cinder_ocfs2 import cluster, executor, fsinfo, mountinfo

VERSION = 1
DEFAULT_BASE = "/var/lib/cinder/ocfs2"
FSTAB = "/etc/fstab"
CONTAINER_PROCESS = "cinder-volume"


@dataclasses.dataclass
class Sources:
    """Where facts come from; tests point these at a fake tree."""

    configfs_root: str = cluster.CONFIGFS_ROOT
    conf_path: str = cluster.CLUSTER_CONF
    debugfs: str = cluster.DEBUGFS
    mountinfo_path: str = mountinfo.DEFAULT_PATH
    fstab: str = FSTAB
    proc: str = "/proc"
    passwd: str = "/etc/passwd"
    group: str = "/etc/group"
    hostname: str | None = None


def domain_of(uuid: str) -> str:
    """OCFS2 UUID -> its o2dlm domain / heartbeat region name (upper hex, no dashes)."""
    return uuid.replace("-", "").upper()


def _mm(mount: mountinfo.Mount) -> str:
    return "{}:{}".format(*mount.major_minor)


def _conf_facts(path: str) -> dict[str, Any]:
    out: dict[str, Any] = {"path": path, "exists": os.path.exists(path)}
    if not out["exists"]:
        return out
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        out["text"] = text
        out["clusters"] = {
            name: {"heartbeat_mode": c.heartbeat_mode, "regions": list(c.heartbeat_regions),
                   "nodes": [n.as_dict() for n in c.nodes]}
            for name, c in cluster.parse_cluster_conf(text).items()}
        out["sha256"] = cluster.checksum(text)
    except (OSError, cluster.ParseError) as exc:
        out["error"] = str(exc)
    return out


def conf_from_facts(facts: dict[str, Any]) -> dict[str, cluster.ClusterConfig] | None:
    """Re-parse the cluster.conf text a node reported (None when it has none)."""
    conf = facts.get("cluster_conf", {})
    if not conf.get("exists") or "text" not in conf:
        return None
    return cluster.parse_cluster_conf(conf["text"])


def _fs_facts(mount: mountinfo.Mount, dlm: dict[str, cluster.DlmDomain]) -> dict[str, Any]:
    fs: dict[str, Any] = {
        "mount_point": mount.mount_point, "device": mount.source,
        "major_minor": _mm(mount), "read_only": mount.read_only,
        "options": mount.options, "super_options": mount.super_options,
        "propagation": mount.propagation,
    }
    try:
        info = fsinfo.query(mount.mount_point)
        fs.update(uuid=info.uuid, label=info.label, slots=info.slots,
                  block_size=info.block_size, cluster_size=info.cluster_size,
                  features=sorted(info.features), has_refcount=info.has_refcount)
        dom = dlm.get(domain_of(info.uuid))
        fs["dlm_domain_map"] = list(dom.domain_map) if dom else None
    except (executor.CommandError, fsinfo.ParseError) as exc:
        fs["error"] = str(exc)
    try:  # a cinder-volume running as cinder writes here (doctor's pool-owner)
        root = os.stat(mount.mount_point)
        fs["root_owner"] = {"uid": root.st_uid, "gid": root.st_gid,
                            "mode": stat.S_IMODE(root.st_mode)}
    except OSError:
        pass
    try:
        st = os.statvfs(mount.mount_point)
        fs["size_bytes"] = st.f_blocks * st.f_frsize
        fs["free_bytes"] = st.f_bavail * st.f_frsize
    except OSError as exc:
        fs.setdefault("error", f"statvfs: {exc}")
    result = executor.run(["mounted.ocfs2", "-f", mount.source], timeout=30, check=False)
    nodes = cluster.parse_mounted_full(result.stdout).get(mount.source)
    fs["mounted_on"] = list(nodes) if nodes is not None else None
    if nodes is None:
        fs["mounted_on_error"] = (result.stderr.strip() or result.stdout.strip())[-300:]
    return fs


def _probe_ports(state: cluster.ClusterState, connected: Sequence[int] | None,
                 timeout: float = 2.0) -> dict[str, str]:
    """TCP-connect to peers' o2net ports that the kernel is not connected to.

    Connected peers are not probed: o2net would log a duplicate-connection
    notice.  Values are "connected", "ok" or the socket error.
    """
    out = {}
    for node in state.nodes:
        if node.local:
            continue
        if connected is not None and node.number in connected:
            out[node.name] = "connected"
            continue
        try:
            with socket.create_connection((node.ip, node.port), timeout=timeout):
                out[node.name] = "ok"
        except OSError as exc:
            reason = errno.errorcode.get(exc.errno or 0, "") if exc.errno else "timeout"
            out[node.name] = f"{node.ip}:{node.port} {reason or exc}".strip()
    return out


def _own_address(state: cluster.ClusterState, conf: dict[str, Any],
                 hostname: str) -> dict[str, Any] | None:
    """Is this node's o2net address configured here?  (bind test, no traffic)

    When it is not, o2net cannot listen ("Error -99 while binding socket"),
    ``o2cb register-cluster`` fails with "Internal logic failure while
    registering node" and mounts with "Internal logic failure while trying to
    join the group".
    """
    node = next((n for n in state.nodes if n.local), None)
    ip = node.ip if node else None
    if ip is None:
        for c in (conf.get("clusters") or {}).values():
            for n in c["nodes"]:
                if n["name"] == hostname:
                    ip = n["ip"]
    if not ip:
        return None
    configured, error = address_is_local(ip)
    return {"ip": ip, "configured": configured, **({"error": error} if error else {})}


def address_is_local(ip: str) -> tuple[bool, str | None]:
    """Bind a throw-away socket to ``ip``: EADDRNOTAVAIL means no interface has it."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((ip, 0))
        return True, None
    except OSError as exc:
        return exc.errno != errno.EADDRNOTAVAIL, errno.errorcode.get(exc.errno or 0, str(exc))


#: The accounts whose ids must agree across nodes: libvirt chowns an attached
#: volume file to ``libvirt-qemu``, and every node sees that number.
ACCOUNTS = ("libvirt-qemu", "cinder", "nova")


def parse_accounts(passwd: str, group: str,
                   names: Sequence[str] = ACCOUNTS) -> dict[str, dict[str, Any]]:
    """``{name: {"uid", "gid", "groups"}}`` of ``names`` in passwd/group text.

    ``groups``: the supplementary groups the account is a member of (by name).
    """
    members: dict[str, list[str]] = {}
    for line in group.splitlines():
        fields = line.split(":")
        if len(fields) >= 4 and not line.startswith("#"):
            for member in filter(None, fields[3].strip().split(",")):
                members.setdefault(member, []).append(fields[0])
    out: dict[str, dict[str, Any]] = {}
    for line in passwd.splitlines():
        fields = line.split(":")
        if len(fields) >= 4 and fields[0] in names:
            out[fields[0]] = {"uid": int(fields[2]), "gid": int(fields[3]),
                              "groups": sorted(members.get(fields[0], []))}
    return out


def _accounts(src: Sources) -> dict[str, dict[str, Any]]:
    try:
        with open(src.passwd, encoding="utf-8") as p, open(src.group, encoding="utf-8") as g:
            return parse_accounts(p.read(), g.read())
    except OSError:
        return {}


def _fstab(path: str) -> list[dict[str, str]]:
    entries = []
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                fields = line.split()
                if len(fields) >= 4 and not fields[0].startswith("#") and fields[2] == "ocfs2":
                    entries.append({"spec": fields[0], "file": fields[1],
                                    "options": fields[3]})
    except OSError:
        pass
    return entries


def _containers(src: Sources, host_ocfs2: list[mountinfo.Mount],
                base: str) -> list[dict[str, Any]]:
    """cinder-volume processes in another mount namespace, and what they can see."""
    found = []
    try:
        own_ns = os.readlink(os.path.join(src.proc, "self", "ns", "mnt"))
    except OSError:
        own_ns = None
    try:
        pids = [p for p in os.listdir(src.proc) if p.isdigit()]
    except OSError:
        return found
    for pid in pids:
        try:
            with open(os.path.join(src.proc, pid, "cmdline"), "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
            if CONTAINER_PROCESS not in cmdline:
                continue
            ns = os.readlink(os.path.join(src.proc, pid, "ns", "mnt"))
            if ns == own_ns:
                continue
            mounts = mountinfo.read(os.path.join(src.proc, pid, "mountinfo"))
        except OSError:
            continue
        visible = {_mm(m) for m in mounts if m.fstype == "ocfs2"}
        holders = [m for m in mounts if base == m.mount_point
                   or base.startswith(m.mount_point.rstrip("/") + "/")]
        holder = max(holders, key=lambda m: len(m.mount_point), default=None)
        found.append({
            "pid": int(pid),
            "visible": sorted(visible),
            "missing": sorted({_mm(m) for m in host_ocfs2} - visible),
            "base_mount": None if holder is None else {
                "mount_point": holder.mount_point,
                "propagation": holder.propagation},
        })
    return found


def gather(src: Sources | None = None, *, base: str = DEFAULT_BASE,
           probe_ports: bool = True) -> dict[str, Any]:
    """Collect this node's facts (needs root for configfs, debugfs, mounted.ocfs2)."""
    src = src or Sources()
    state = cluster.read_state(src.configfs_root, conf_path=src.conf_path,
                               hostname=src.hostname)
    dlm = cluster.read_dlm_domains(src.debugfs)
    livenodes = cluster.read_node_map(os.path.join(src.debugfs, "o2hb", "livenodes"))
    connected = cluster.read_node_map(os.path.join(src.debugfs, "o2net", "connected_nodes"))
    try:
        mounts = mountinfo.read(src.mountinfo_path)
    except (OSError, mountinfo.ParseError):
        mounts = []
    ocfs2 = [m for m in mounts if m.fstype == "ocfs2"]
    base_mount = mountinfo.find(mounts, base)
    conf = _conf_facts(src.conf_path)
    hostname = cluster.short_hostname(src.hostname)
    return {
        "version": VERSION,
        "hostname": hostname,
        "base": base,
        "base_propagation": base_mount.propagation if base_mount else None,
        "cluster_conf": conf,
        "own_address": _own_address(state, conf, hostname),
        "configfs": state.as_dict(),
        "o2hb_livenodes": None if livenodes is None else list(livenodes),
        "o2net_connected": None if connected is None else list(connected),
        "dlm_domains": {name: {"node": d.node, "state": d.state,
                               "domain_map": list(d.domain_map)} for name, d in dlm.items()},
        "filesystems": [_fs_facts(m, dlm) for m in ocfs2],
        "ports": _probe_ports(state, connected) if probe_ports and state.registered else {},
        "fstab": _fstab(src.fstab),
        "containers": _containers(src, ocfs2, base),
        "accounts": _accounts(src),
    }


def conf_vs_configfs(facts: dict[str, Any]) -> list[str]:
    """Differences between this node's cluster.conf and its live configfs."""
    live = facts.get("configfs", {})
    if not live.get("registered"):
        return []
    name = live.get("name")
    clusters = facts.get("cluster_conf", {}).get("clusters") or {}
    if name not in clusters:
        return [f"cluster {name} is registered but not in cluster.conf"]
    want = {n["name"]: (n["number"], n["ip"], n["port"]) for n in clusters[name]["nodes"]}
    have = {n["name"]: (n["number"], n["ip"], n["port"]) for n in live.get("nodes", [])}
    diffs = []
    for node in sorted(set(want) | set(have)):
        if node not in have:
            diffs.append(f"{node} is in cluster.conf but not registered")
        elif node not in want:
            diffs.append(f"{node} is registered but not in cluster.conf")
        elif want[node] != have[node]:
            diffs.append(f"{node} is {have[node]} in configfs but {want[node]} in cluster.conf")
    mode = clusters[name]["heartbeat_mode"]
    if live.get("heartbeat_mode") and live["heartbeat_mode"] != mode:
        diffs.append(f"heartbeat mode is {live['heartbeat_mode']} in configfs, {mode} in "
                     "cluster.conf")
    return diffs
