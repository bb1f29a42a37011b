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
"""Record real command output from lab nodes into tests/fixtures/recorded/.

Other engineers' pure-parser unit tests read these files. Each recording is one
file named ``<node>-<what>.txt`` (stdout; the stderr of a failing command goes
to ``.stderr``), and README.md lists the node and exact command of each.
Run ``python -m lab record-fixtures`` to re-record them.
"""

from __future__ import annotations

import datetime
import shlex
from dataclasses import dataclass
from pathlib import Path

from lab import cluster, config
from lab.lab import Lab, Node

CONFIGFS_DUMP = r"""cd /sys/kernel/config/cluster && find . -type f | sort | while read f; do
    printf '%s: %s\n' "$f" "$(cat "$f" 2>&1 | tr '\n' ' ' | sed 's/ $//')"
done"""

DEBUGFS_DUMP = r"""for f in /sys/kernel/debug/o2hb/livenodes /sys/kernel/debug/o2hb/live_regions \
    /sys/kernel/debug/o2hb/*/* /sys/kernel/debug/o2net/connected_nodes; do
    [ -f "$f" ] && printf '== %s\n%s\n' "$f" "$(cat "$f")"
done"""

# Failure scenarios, recorded on node2. Every OCFS2 mount on the node comes
# down first (a node that still heartbeats on some disk while its network is
# gone fences itself), then BREAK is applied, the mount's stderr captured,
# and everything restored and remounted.
FAULT = """set -u
dev={dev}; mnt={mnt}; opts={opts}; ip={ip}
nic=$(ls /sys/class/net | grep -v '^lo$' | head -1)
grep ' ocfs2 ' /proc/mounts | cut -d' ' -f1,2 > /tmp/ocfs2-mounts
cut -d' ' -f2 /tmp/ocfs2-mounts | xargs -r -n1 umount
dmesg -C
{brk}
o2cb cluster-status {cluster} >/tmp/fault-status.out 2>&1; echo "rc=$?" >>/tmp/fault-status.out
mount -t ocfs2 -o "$opts" "$dev" "$mnt" 2>/tmp/fault-mount.err
rc=$?
dmesg > /tmp/fault.dmesg
ip addr add "$ip" dev "$nic" 2>/dev/null
ip link set "$nic" up
o2cb unregister-cluster {cluster} >/dev/null 2>&1
sleep 3
{register} >/dev/null 2>&1
while read d m; do
    for try in 1 2 3 4 5 6 7 8; do
        mount -t ocfs2 -o "$opts" "$d" "$m" >/dev/null 2>&1 && break
        sleep 5
    done
done < /tmp/ocfs2-mounts
cat /tmp/fault-mount.err >&2
echo "rc=$rc" >&2
exit 0
"""
BREAK_NIC_DOWN = 'ip link set "$nic" down'
BREAK_NO_IP = ('ip addr del "$ip" dev "$nic"; o2cb unregister-cluster {cluster}; '
               'o2cb register-cluster {cluster} >/tmp/fault-register.out 2>&1')
BREAK_OFFLINE = "o2cb unregister-cluster {cluster}"


def fault(brk: str, dev: str, mnt: str) -> str:
    c = config.CLUSTER
    return FAULT.format(dev=dev, mnt=mnt, opts=config.MOUNT_OPTIONS, cluster=c,
                        ip=f"{config.node_ip(2)}/{config.PREFIX}",
                        brk=brk.format(cluster=c),
                        register="sh -c " + shlex.quote(cluster.register_script()))


@dataclass(frozen=True)
class Recording:
    name: str
    node: str
    command: str
    note: str = ""


def recordings(dev1: str, dev2: str, mnt: str) -> list[Recording]:
    c = config.CLUSTER
    fmt = "'%V %U %M %N\\n'"
    fmt_all = ("'label=%V uuid=%U slots=%N clustersize=%T rootdir=%R sysdir=%Y "
               "firstgroup=%P compat=%M incompat=%H rocompat=%O\\n'")
    r = [
        Recording("node1-proc-self-mountinfo.txt", "node1", "cat /proc/self/mountinfo"),
        Recording("node2-proc-self-mountinfo.txt", "node2", "cat /proc/self/mountinfo",
                  "same disk, possibly another device number"),
        Recording("node1-proc-mounts.txt", "node1", "cat /proc/mounts"),
        Recording("node1-lsblk.txt", "node1",
                  "lsblk -P -o NAME,MAJ:MIN,SERIAL,FSTYPE,LABEL,UUID,SIZE"),
        Recording("node1-blkid-o-export.txt", "node1", f"blkid -o export {dev1}"),
        Recording("node1-blkid-p-o-export.txt", "node1", f"blkid -p -o export {dev1}"),
        Recording("node1-o2info-fs-features.txt", "node1", f"o2info --fs-features {mnt}"),
        Recording("node1-o2info-volinfo.txt", "node1", f"o2info --volinfo {mnt}"),
        Recording("node1-o2info-mkfs.txt", "node1", f"o2info --mkfs {mnt}"),
        Recording("node1-o2info-freeinode.txt", "node1", f"o2info --freeinode {mnt}"),
        Recording("node1-o2info-freefrag-1024.txt", "node1", f"o2info --freefrag 1024 {mnt}"),
        Recording("node1-o2info-fs-features-device.txt", "node1", f"o2info --fs-features {dev1}"),
        Recording("node1-mounted.ocfs2-d.txt", "node1", "mounted.ocfs2 -d"),
        Recording("node1-mounted.ocfs2-f.txt", "node1", "mounted.ocfs2 -f"),
        Recording("node1-o2cb-list-cluster.txt", "node1", f"o2cb list-cluster {c}"),
        Recording("node1-o2cb-list-clusters.txt", "node1", "o2cb list-clusters"),
        Recording("node1-o2cb-list-nodes.txt", "node1", f"o2cb list-nodes {c}"),
        Recording("node1-o2cb-list-heartbeats.txt", "node1", f"o2cb list-heartbeats {c}"),
        Recording("node1-o2cb-cluster-status.txt", "node1", f"o2cb cluster-status {c}"),
        Recording("node1-o2cb-cluster-status-all.txt", "node1", "o2cb cluster-status"),
        Recording("node1-o2cb-heartbeat-mode.txt", "node1", f"o2cb heartbeat-mode {c}",
                  "without a mode argument: prints usage/current mode"),
        Recording("node1-etc-ocfs2-cluster.conf", "node1", "cat /etc/ocfs2/cluster.conf"),
        Recording("node1-etc-default-o2cb.txt", "node1", "cat /etc/default/o2cb"),
        Recording("node1-configfs-ls-R.txt", "node1", "ls -R /sys/kernel/config/cluster"),
        Recording("node1-configfs-values.txt", "node1", CONFIGFS_DUMP,
                  "every configfs attribute as '<path>: <value>' (cwd /sys/kernel/config/cluster)"),
        Recording("node2-configfs-values.txt", "node2", CONFIGFS_DUMP),
        Recording("node1-o2dlm-dlm_state.txt", "node1", "cat /sys/kernel/debug/o2dlm/*/dlm_state"),
        Recording("node1-debugfs-o2hb-o2net.txt", "node1", DEBUGFS_DUMP),
        Recording("node1-debugfs.ocfs2-stats.txt", "node1", f"debugfs.ocfs2 -R stats {dev1}"),
        Recording("node1-tunefs.ocfs2-Q.txt", "node1", f"tunefs.ocfs2 -Q {fmt} {dev1}"),
        Recording("node1-tunefs.ocfs2-Q-all.txt", "node1", f"tunefs.ocfs2 -Q {fmt_all} {dev1}"),
        Recording("node1-df-B1.txt", "node1", f"df -B1 {mnt}"),
        Recording("node1-stat-f.txt", "node1", f"stat -f {mnt}"),
        Recording("node1-findmnt-ocfs2.txt", "node1",
                  "findmnt -t ocfs2 -n -o TARGET,SOURCE,MAJ:MIN,OPTIONS"),
        Recording("node1-dmesg.txt", "node1", "dmesg",
                  "whole kernel log: boot, cluster join, mount. Note o2dlm's node list "
                  "('( 0 1 ) 2 nodes') comes as separate continuation lines"),
        Recording("node2-dmesg.txt", "node2", "dmesg"),
        Recording("node2-mount-no-ip.stderr", "node2", fault(BREAK_NO_IP, dev2, mnt),
                  "the operators' error: node2's cluster IP removed from its NIC, cluster "
                  "re-registered (fails), mount; stderr of that mount + 'rc=N'"),
        Recording("node2-o2cb-register-cluster-no-ip.txt", "node2",
                  "cat /tmp/fault-register.out",
                  "stdout+stderr of `o2cb register-cluster` in the scenario above"),
        Recording("node2-mount-no-ip-dmesg.txt", "node2", "cat /tmp/fault.dmesg"),
        Recording("node2-mount-nic-down.stderr", "node2", fault(BREAK_NIC_DOWN, dev2, mnt),
                  "NIC down (IP kept), cluster registered, mount; its stderr + 'rc=N'"),
        Recording("node2-mount-nic-down-dmesg.txt", "node2", "cat /tmp/fault.dmesg",
                  "kernel log of the failing mount above (dmesg cleared before it)"),
        Recording("node2-mount-cluster-offline.stderr", "node2", fault(BREAK_OFFLINE, dev2, mnt),
                  "o2cb unregister-cluster, then mount; its stderr + 'rc=N'"),
        Recording("node2-o2cb-cluster-status-offline.txt", "node2", "cat /tmp/fault-status.out",
                  "`o2cb cluster-status labcluster; echo rc=$?` in the scenario above"),
        Recording("node1-dmesg-after-node2-faults.txt", "node1", "dmesg | tail -60",
                  "node1's view of node2's failed mounts and remounts"),
    ]
    return r


def _run(node: Node, rec: Recording) -> tuple[bytes, bytes, int]:
    res = node.exec(rec.command, timeout=300)
    return res.stdout_bytes, res.stderr_bytes, res.rc


def record_all(lab: Lab, out: str | Path, label: str = config.DEFAULT_LABEL) -> list[Path]:
    """Record every command into ``out``; return the files written."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    mnt = cluster.mountpoint(label)
    dev1, dev2 = lab.device("node1", label), lab.device("node2", label)
    written: list[Path] = []
    rows: list[str] = []
    for rec in recordings(dev1, dev2, mnt):
        stdout, stderr, rc = _run(lab.node(rec.node), rec)
        path = out / rec.name
        if rec.name.endswith(".stderr"):
            path.write_bytes(stderr)
        else:
            path.write_bytes(stdout)
            if stderr and rc != 0:
                (out / (rec.name + ".stderr")).write_bytes(stderr)
                written.append(out / (rec.name + ".stderr"))
        written.append(path)
        cmd = rec.command if "\n" not in rec.command else "(script, see lab/record.py)"
        rows.append(f"| `{rec.name}` | {rec.node} | `{cmd}` | {rc} | {rec.note} |")
    today = datetime.date.today().isoformat()
    readme = out / "README.md"
    readme.write_text("\n".join([
        "# Recorded command output from the lab",
        "",
        f"Recorded {today} with `python -m lab record-fixtures` (code: `lab/record.py`) on a",
        "2-node lab: Debian bookworm guests (kernel and ocfs2-tools from bookworm), o2cb",
        f"cluster `{config.CLUSTER}` (node1 = o2cb node 0, 10.77.0.11;",
        "node2 = o2cb node 1, 10.77.0.12),",
        f"shared disk `{label}` (mkfs.ocfs2 `{' '.join(cluster.mkfs_args(label)[2:])}`) at",
        f"`{mnt}`, mounted with `{config.MOUNT_OPTIONS}`.",
        f"On node1 the disk is `{dev1}`, on node2 `{dev2}`.",
        "",
        "Files are the command's stdout, byte for byte; a failing command's stderr is in",
        "`<file>.stderr`. The `cli/` directory is recorded separately (see its README).",
        "",
        "| file | node | command | rc | note |",
        "|---|---|---|---|---|",
        *rows,
        "",
    ]))
    written.append(readme)
    return written
