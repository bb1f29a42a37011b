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
"""``cinder-ocfs2 doctor``: find the usual OCFS2/o2cb failures and name the fix.

Checks run over the facts of one or more nodes (:mod:`.facts`): this node's,
the peers' (``--peer NAME=PREFIX`` runs ``cinder-ocfs2 doctor --facts``
there) and saved ones (``--compare FILE``; gather them with
``cinder-ocfs2 doctor --facts > node1.json`` on each node).
:func:`analyze` is pure.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from collections.abc import Mapping
from typing import Any

from cinder_ocfs2.cli import common, facts

DISK_CHECKS = ("slots", "refcount", "partial-mount")
#: what mount.ocfs2 (ocfs2-tools 1.8.7) prints in each state, as seen in the lab
MOUNT_ERRORS = {
    "not-loaded": "Cluster name is invalid while trying to join the group",
    "not-registered": "Cluster name is invalid while trying to join the group",
    "no-local-node": "Internal logic failure while trying to join the group",
    "heartbeat": "o2cb heartbeat not started (global heartbeat mounts fail)",
}


@dataclasses.dataclass(frozen=True)
class Finding:
    check: str
    severity: str  # "error" or "warning"
    node: str      # node name, or "cluster" for cross-node findings
    message: str
    fix: str

    def as_dict(self) -> dict[str, str]:
        return dataclasses.asdict(self)


def _node_findings(name: str, f: Mapping[str, Any]) -> list[Finding]:
    out: list[Finding] = []

    def add(check: str, severity: str, message: str, fix: str) -> None:
        out.append(Finding(check, severity, name, message, fix))

    live = f.get("configfs", {})
    conf = f.get("cluster_conf", {})
    clusters = conf.get("clusters") or {}
    cname = live.get("name") or next(iter(clusters), "NAME")
    if not conf.get("exists"):
        add("cluster-conf", "error", f"{conf.get('path')} does not exist",
            "copy cluster.conf from a healthy node (`cinder-ocfs2 node add` does this for "
            "new nodes), then `o2cb register-cluster " + cname + "`")
    elif conf.get("error"):
        add("cluster-conf", "error", f"cluster.conf is unreadable: {conf['error']}",
            "rewrite it with `o2cb` commands or copy it from a healthy node")
    if live.get("problem"):
        problem = live["problem"]
        if not live.get("stack_loaded", True):
            what, mode = "o2cb-registered", "not-loaded"
        elif not live.get("registered"):
            what, mode = "o2cb-registered", "not-registered"
        elif live.get("local_node") is None:
            what, mode = "o2cb-registered", "no-local-node"
        else:
            what, mode = "o2cb-heartbeat", "heartbeat"
        head, _, fix = problem.partition(": ")
        host = f.get("hostname")
        in_conf = any(n["name"] == host for c in clusters.values() for n in c["nodes"])
        if mode == "no-local-node" and in_conf:
            head = (f"cluster {cname} is registered but this host's node ({host}), which "
                    "cluster.conf lists, is not registered as the local node: `o2cb "
                    "register-cluster` could not register it (usually its o2net address is "
                    "not configured here, see local-address, or the hostname changed after "
                    "registration)")
            fix = f"fix the cause, then run `o2cb register-cluster {cname}`"
        if MOUNT_ERRORS[mode] not in head:
            head += f"; mount.ocfs2 fails with '{MOUNT_ERRORS[mode]}' until this is fixed"
        add(what, "error", head, fix or problem)
    host = f.get("hostname")
    conf_nodes = {n["name"] for c in clusters.values() for n in c["nodes"]}
    if clusters and host not in conf_nodes:
        add("node-name", "error",
            f"hostname {host!r} is not a node name in cluster.conf "
            f"({', '.join(sorted(conf_nodes)) or 'no nodes'}); o2cb finds the local node by "
            f"hostname, so this node has no local node and cannot mount",
            f"set the hostname to the node name (`hostnamectl set-hostname NODE`) or add this "
            f"host with `cinder-ocfs2 node add {host} --ip IP`")
    for diff in facts.conf_vs_configfs(f):  # type: ignore[arg-type]
        add("configfs-stale", "error", f"live cluster differs from cluster.conf: {diff}",
            f"run `o2cb register-cluster {cname}` to load cluster.conf (removed nodes and "
            "address changes need the node offline; see `cinder-ocfs2 node`)")
    own = f.get("own_address")
    if own and not own.get("configured", True):
        add("local-address", "error",
            f"this node's o2net address {own['ip']} is not configured on any interface: o2net "
            "cannot listen ('Error -99 while binding socket'), so `o2cb register-cluster` "
            "fails with 'Internal logic failure while registering node' and mounts with "
            "'Internal logic failure while trying to join the group'",
            f"bring up the interconnect with {own['ip']} (or correct ip_address in cluster.conf "
            f"on every node), then `o2cb register-cluster {cname}`")
    nodes = {n["name"]: n for n in live.get("nodes", [])}
    live_nums = f.get("o2hb_livenodes")
    connected = f.get("o2net_connected")
    for peer, result in sorted((f.get("ports") or {}).items()):
        if result in ("connected", "ok"):
            continue
        number = nodes.get(peer, {}).get("number")
        heartbeating = live_nums is not None and number in live_nums
        if "ENETUNREACH" in result or "EHOSTUNREACH" in result:
            add("o2net-port", "error",
                f"no route from this node to {peer} ({result}): the interconnect is down "
                "here; mounts fail with 'Internal logic failure while mounting ... error 107' "
                "and the kernel logs 'This node could not connect to nodes'",
                "bring the interconnect interface up and check routes/VLANs, then retry")
        elif heartbeating:
            add("o2net-port", "error",
                f"{peer} heartbeats on disk but its o2net port is unreachable ({result})",
                f"open TCP {nodes[peer]['port']} between the nodes (firewall/interconnect) "
                "and check the address in cluster.conf; until then mounts hang or fail")
        else:
            add("o2net-port", "warning", f"{peer} is down or unreachable ({result})",
                f"start {peer} or check the network to {nodes.get(peer, {}).get('ip')}")
    if live_nums is not None and connected is not None:
        local = next((n["number"] for n in nodes.values() if n.get("local")), None)
        for peer in nodes.values():
            num = peer["number"]
            if num != local and num in live_nums and num not in connected \
                    and (f.get("ports") or {}).get(peer["name"]) in (None, "ok", "connected"):
                add("o2net-connect", "error",
                    f"{peer['name']} heartbeats on disk but o2net is not connected to it",
                    "check the interconnect and that both nodes have the same cluster.conf "
                    "(`cinder-ocfs2 doctor --peer ...`)")
    mounted_labels = set()
    for fs in f.get("filesystems", []):
        label = fs.get("label") or fs.get("mount_point")
        mounted_labels.add(fs.get("mount_point"))
        if fs.get("error"):
            add("fs-identity", "warning", f"{label}: {fs['error']}",
                "check that ocfs2-tools is installed and the filesystem is healthy")
        if fs.get("read_only"):
            add("read-only", "error",
                f"{label} at {fs['mount_point']} is mounted read-only (errors=remount-ro "
                "after an I/O or metadata error; see dmesg)",
                f"stop cinder-volume, unmount {label} on every node, run `fsck.ocfs2 -fy "
                f"{fs.get('device')}` on one node, then mount it again everywhere")
        slots = fs.get("slots")
        if slots:
            wanted = len(conf_nodes)
            used = len(fs.get("mounted_on") or [])
            if wanted > slots:
                add("slots", "error",
                    f"{label} has {slots} node slots but the cluster has {wanted} nodes",
                    f"add slots: `tunefs.ocfs2 -N {wanted + 2} {fs.get('device')}` (the "
                    "cluster must be online; unmount everywhere if tunefs refuses)")
            elif used >= slots:
                add("slots", "warning", f"{label}: all {slots} node slots are in use",
                    f"add headroom: `tunefs.ocfs2 -N {slots + 2} {fs.get('device')}`")
        if fs.get("has_refcount") is False:
            add("refcount", "warning",
                f"{label} lacks the refcount feature: clones and snapshots become full copies",
                f"with {label} unmounted on every node: `tunefs.ocfs2 "
                f"--fs-features=refcount {fs.get('device')}`")
        on = fs.get("mounted_on")
        if on is not None and conf_nodes:
            missing = sorted(conf_nodes - set(on))
            unknown = sorted(set(on) - conf_nodes)
            if unknown:
                add("partial-mount", "error",
                    f"{label} is mounted by node(s) {', '.join(unknown)} that are not in this "
                    "node's cluster.conf",
                    "make cluster.conf identical on every node (`cinder-ocfs2 doctor --peer`)")
            if missing:
                add("partial-mount", "warning",
                    f"{label} is mounted on {', '.join(on) or 'no node'} but not on "
                    f"{', '.join(missing)}",
                    f"on each missing node: `cinder-ocfs2 disk add UUID={fs.get('uuid')} --yes` "
                    "(adopts and mounts it)")
    fstab = {e["file"]: e for e in f.get("fstab", [])}
    for mp in sorted(p for p in mounted_labels if p):
        entry = fstab.get(mp)
        if entry is None:
            add("fstab", "warning", f"{mp} is mounted but has no /etc/fstab entry",
                "it will not come back after a reboot: `cinder-ocfs2 disk add` writes one")
        elif "_netdev" not in entry["options"].split(","):
            add("fstab", "warning", f"the fstab entry for {mp} lacks _netdev",
                "add _netdev so it mounts after the network and o2cb are up")
    for c in f.get("containers", []):
        holder = c.get("base_mount") or {}
        prop = holder.get("propagation") or {}
        if c.get("missing"):
            add("propagation", "error",
                f"cinder-volume (pid {c['pid']}) cannot see {len(c['missing'])} OCFS2 "
                f"mount(s) ({', '.join(c['missing'])}): the bind mount "
                f"{holder.get('mount_point')} is {'slave' if 'master' in prop else 'private'}"
                " or was created before the mount",
                f"bind {f.get('base')} into the container with rshared/rslave propagation "
                f"(kolla: `{f.get('base')}:{f.get('base')}:shared`), make the host side "
                f"shared (`mount --make-rshared {f.get('base')}`), restart the container once")
        elif not prop:
            add("propagation", "warning",
                f"cinder-volume (pid {c['pid']}) has a private bind mount of "
                f"{holder.get('mount_point')}: disks added later will not appear in it",
                "use rshared/rslave propagation for that bind mount (kolla: ':shared')")
    return out


def _cross_findings(all_facts: Mapping[str, Mapping[str, Any]]) -> list[Finding]:
    out: list[Finding] = []
    if len(all_facts) < 2:
        return out
    sums: dict[str, list[str]] = {}
    for name, f in all_facts.items():
        sums.setdefault(f.get("cluster_conf", {}).get("sha256") or "missing", []).append(name)
    cname = next((f.get("configfs", {}).get("name") for f in all_facts.values()
                  if f.get("configfs", {}).get("name")), None) or "NAME"
    if len(sums) > 1:
        groups = "; ".join(f"{', '.join(sorted(nodes))}: {digest[:12]}"
                           for digest, nodes in sorted(sums.items()))
        out.append(Finding("cluster-conf-differs", "error", "cluster",
                           f"cluster.conf differs between nodes ({groups})",
                           "copy one correct cluster.conf to every node, then `o2cb "
                           f"register-cluster {cname}` on each (node changes: `cinder-ocfs2 "
                           "node`)"))
    timeouts: dict[str, list[str]] = {}
    for name, f in all_facts.items():
        t = f.get("configfs", {}).get("timeouts")
        if t:
            timeouts.setdefault(json.dumps(t, sort_keys=True), []).append(name)
    if len(timeouts) > 1:
        detail = "; ".join(f"{', '.join(sorted(n))}: {t}" for t, n in sorted(timeouts.items()))
        out.append(Finding("timeouts", "error", "cluster",
                           f"o2cb timeouts differ between nodes ({detail}); nodes with "
                           "different timeouts refuse to connect",
                           "set O2CB_HEARTBEAT_THRESHOLD, O2CB_IDLE_TIMEOUT_MS, "
                           "O2CB_KEEPALIVE_DELAY_MS and O2CB_RECONNECT_DELAY_MS identically in "
                           "/etc/default/o2cb on every node and restart o2cb (offline)"))
    by_uuid: dict[str, dict[str, Any]] = {}
    for name, f in all_facts.items():
        for fs in f.get("filesystems", []):
            if fs.get("uuid"):
                by_uuid.setdefault(fs["uuid"], {"label": fs.get("label"), "nodes": set()})
                by_uuid[fs["uuid"]]["nodes"].add(name)
    for uuid, info in sorted(by_uuid.items()):
        missing = sorted(set(all_facts) - info["nodes"])
        if missing:
            out.append(Finding("partial-mount", "error", "cluster",
                               f"{info['label']} ({uuid}) is mounted on "
                               f"{', '.join(sorted(info['nodes']))} but not on "
                               f"{', '.join(missing)}",
                               f"on {', '.join(missing)}: `cinder-ocfs2 disk add UUID={uuid} "
                               "--yes` (adopts the disk, writes fstab, mounts)"))
    return out


def _account_findings(all_facts: Mapping[str, Mapping[str, Any]]) -> list[Finding]:
    """The same uid:gid for libvirt-qemu, cinder and nova on every node that has them.

    libvirt chowns an attached volume file to libvirt-qemu on the node that starts
    qemu; the other nodes see the number (live migration, cinder-volume's in-use
    snapshot and backup), so a different number there is another user.
    """
    out: list[Finding] = []
    for account in facts.ACCOUNTS:
        ids: dict[str, list[str]] = {}
        for name, f in all_facts.items():
            acct = (f.get("accounts") or {}).get(account)
            if acct:
                ids.setdefault(f"{acct['uid']}:{acct['gid']}", []).append(name)
        if len(ids) > 1:
            detail = "; ".join(f"{', '.join(sorted(n))}: {i}" for i, n in sorted(ids.items()))
            out.append(Finding(
                "account-ids", "error", "cluster",
                f"{account} has different uid:gid on different nodes ({detail}); the files "
                f"on the shared filesystems carry numbers, so {account} on one node is "
                "another user on the next (libvirt chowns attached volumes to libvirt-qemu)",
                f"give {account} the same uid and gid on every node (usermod -u, groupmod "
                "-g, then chown its files) before attaching volumes"))
    for name, f in all_facts.items():
        accts = f.get("accounts") or {}
        cinder, qemu = accts.get("cinder"), accts.get("libvirt-qemu")
        # The file's group while attached is group libvirt-qemu (seen: 64055:64055).
        if cinder and qemu and "libvirt-qemu" not in cinder.get("groups", []):
            out.append(Finding(
                "cinder-reads-attached", "warning", name,
                "user cinder is not in group libvirt-qemu: while a volume is attached, "
                "libvirt makes its file libvirt-qemu's (mode 0660), and a cinder-volume "
                "running as cinder cannot snapshot, back up or upload it",
                "usermod -aG libvirt-qemu cinder, then restart cinder-volume and "
                "cinder-backup (not needed when they run as root)"))
    out.extend(_pool_owner_findings(all_facts))
    return out


def _writable_by(account: Mapping[str, Any], owner: Mapping[str, int]) -> bool:
    """Whether ``account`` (uid, primary gid) may create files in a directory of
    ``owner`` (uid, gid, mode); supplementary groups are not known by number here."""
    if owner["uid"] == account["uid"]:
        return bool(owner["mode"] & 0o200)
    if owner["gid"] == account["gid"]:
        return bool(owner["mode"] & 0o020)
    return bool(owner["mode"] & 0o002)


def _pool_owner_findings(all_facts: Mapping[str, Mapping[str, Any]]) -> list[Finding]:
    """Each OCFS2 filesystem whose root user cinder cannot write, once per filesystem
    (its root inode is shared: one chown on any node fixes it everywhere)."""
    out: list[Finding] = []
    seen: set[str] = set()
    for name, f in all_facts.items():
        cinder = (f.get("accounts") or {}).get("cinder")
        if not cinder:
            continue
        for fs in f.get("filesystems", []):
            owner, key = fs.get("root_owner"), fs.get("uuid") or fs.get("mount_point")
            if not owner or key in seen or _writable_by(cinder, owner):
                continue
            seen.add(key)
            mount = fs.get("mount_point")
            out.append(Finding(
                "pool-owner", "warning", name,
                f"{fs.get('label') or mount} at {mount}: its root is "
                f"{owner['uid']}:{owner['gid']} {owner['mode']:o}, which user cinder "
                f"({cinder['uid']}:{cinder['gid']}) cannot write: a cinder-volume running "
                "as cinder cannot create volumes in this pool",
                f"chown cinder:cinder {mount} (on one node: the filesystem is shared); "
                "not needed when cinder-volume runs as root"))
    return out


def analyze(all_facts: Mapping[str, Mapping[str, Any]]) -> list[Finding]:
    """All findings for the given ``{node: facts}``, errors first."""
    findings = _cross_findings(all_facts) + _account_findings(all_facts)
    cross_partial = any(f.check == "partial-mount" for f in findings)
    seen: set[tuple[str, str]] = set()
    for name, f in all_facts.items():
        for finding in _node_findings(name, f):
            # with several nodes the cross-node view of partial mounts is exact
            if cross_partial and finding.check == "partial-mount" and \
                    finding.severity == "warning":
                continue
            # a disk's own problems (slots, refcount) are reported once, not per node
            if finding.check in DISK_CHECKS:
                if (finding.check, finding.message) in seen:
                    continue
                seen.add((finding.check, finding.message))
            findings.append(finding)
    return sorted(findings, key=lambda x: x.severity != "error")


def collect(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """Facts of this node (unless --no-local), the peers and the --compare files."""
    out: dict[str, dict[str, Any]] = {}
    if not args.no_local:
        common.say("gathering this node's facts")
        local = facts.gather(base=args.base, probe_ports=not args.no_port_probe)
        out[local["hostname"]] = local
    for name, prefix in args.peer:
        if not prefix and name in out:
            continue
        common.say(f"gathering facts from {name}")
        remote = common.run_remote_json(prefix, common.remote_cli(args),
                                        ["doctor", "--facts", "--base", args.base])
        out[remote.get("hostname") or name] = remote
    for path in args.compare:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        out[data.get("hostname") or path] = data
    return out


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "doctor", help="find known o2cb/OCFS2 failures and name the fix",
        description="Check this node (and peers) for the usual failures: cluster.conf "
                    "differing between nodes, node name vs hostname, o2cb not registered or "
                    "heartbeat not started (the 'Internal logic failure while trying to join "
                    "the group' mount error), unreachable o2net ports, non-uniform timeouts, "
                    "read-only filesystems, exhausted slots, missing refcount, disks mounted "
                    "on some nodes only, and container mount propagation.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  cinder-ocfs2 doctor\n"
               "  cinder-ocfs2 doctor --peer node2='ssh root@node2' --peer node3='ssh node3'\n"
               "  cinder-ocfs2 doctor --facts > $(hostname).json   # on every node, then:\n"
               "  cinder-ocfs2 doctor --no-local --compare node1.json node2.json\n\n"
               + common.EXIT_CODES_HELP)
    p.add_argument("--facts", action="store_true",
                   help="print this node's facts as JSON (for --compare) and exit")
    p.add_argument("--compare", nargs="+", default=[], metavar="FILE",
                   help="facts files from other nodes to check together")
    p.add_argument("--no-local", action="store_true",
                   help="do not include this machine (e.g. when run from an admin host)")
    p.add_argument("--no-port-probe", action="store_true",
                   help="do not TCP-probe peers' o2net ports")
    p.add_argument("--base", default=facts.DEFAULT_BASE,
                   help="where the driver's filesystems are mounted (default: %(default)s)")
    p.add_argument("--json", action="store_true", help="print findings as JSON")
    common.add_peer_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.facts:
        common.print_json(facts.gather(base=args.base, probe_ports=not args.no_port_probe))
        return common.EXIT_OK
    all_facts = collect(args)
    if not all_facts:
        raise common.CliError("no facts to check: drop --no-local or give --peer/--compare")
    findings = analyze(all_facts)
    errors = [f for f in findings if f.severity == "error"]
    if args.json:
        common.print_json({"nodes": sorted(all_facts), "ok": not errors,
                           "findings": [f.as_dict() for f in findings]})
    else:
        print(f"checked: {', '.join(sorted(all_facts))}")
        if not findings:
            print("no problems found")
        for f in findings:
            print(f"{f.severity.upper():7} [{f.node}] {f.check}: {f.message}\n"
                  f"        fix: {f.fix}")
    return common.EXIT_PROBLEMS if errors else common.EXIT_OK
