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
"""o2cb cluster configuration and OCFS2 disks: the files and the node-side steps.

The host writes ``cluster.conf``, ``/etc/default/o2cb`` and ``hosts`` into the
lab share; each node installs them, registers the cluster, sets the (uniform)
o2cb timeouts in configfs and mounts the shared disks by their serial.
"""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

from lab import config


def cluster_conf(nodes: int) -> str:
    """``/etc/ocfs2/cluster.conf`` for nodes node1..nodeN (o2cb numbers from 0)."""
    out = [
        "cluster:",
        "\theartbeat_mode = local",
        f"\tnode_count = {nodes}",
        f"\tname = {config.CLUSTER}",
        "",
    ]
    for i in range(1, nodes + 1):
        out += [
            "node:",
            f"\tip_port = {config.O2CB_PORT}",
            f"\tip_address = {config.node_ip(i)}",
            f"\tnumber = {i - 1}",
            f"\tname = {config.node_name(i)}",
            f"\tcluster = {config.CLUSTER}",
            "",
        ]
    return "\n".join(out)


def default_o2cb() -> str:
    """``/etc/default/o2cb``, for tools that read it; the timeouts match configfs."""
    return "\n".join([
        "O2CB_ENABLED=true",
        "O2CB_STACK=o2cb",
        f"O2CB_BOOTCLUSTER={config.CLUSTER}",
        f"O2CB_HEARTBEAT_THRESHOLD={config.HEARTBEAT_THRESHOLD}",
        f"O2CB_IDLE_TIMEOUT_MS={config.IDLE_TIMEOUT_MS}",
        f"O2CB_KEEPALIVE_DELAY_MS={config.KEEPALIVE_DELAY_MS}",
        f"O2CB_RECONNECT_DELAY_MS={config.RECONNECT_DELAY_MS}",
        "",
    ])


def hosts(nodes: int) -> str:
    lines = ["127.0.0.1\tlocalhost", f"{config.HOST_IP}\tlabhost"]
    lines += [f"{config.node_ip(i)}\t{config.node_name(i)}" for i in range(1, config.MAX_NODES + 1)]
    return "\n".join(lines) + "\n"


def write_share_files(share: Path, nodes: int) -> None:
    share.mkdir(parents=True, exist_ok=True)
    (share / "cluster.conf").write_text(cluster_conf(nodes))
    (share / "o2cb").write_text(default_o2cb())
    (share / "hosts").write_text(hosts(nodes))


def register_script() -> str:
    """Shell run on a node: install the config and bring the o2cb cluster online."""
    c = f"/sys/kernel/config/cluster/{config.CLUSTER}"
    return f"""set -e
mkdir -p /etc/ocfs2
cp {config.GUEST_SHARE}/cluster.conf /etc/ocfs2/cluster.conf
cp {config.GUEST_SHARE}/o2cb /etc/default/o2cb
cp {config.GUEST_SHARE}/hosts /etc/hosts
if [ ! -d {c} ]; then o2cb register-cluster {config.CLUSTER}; fi
echo {config.HEARTBEAT_THRESHOLD} > {c}/heartbeat/dead_threshold
echo {config.IDLE_TIMEOUT_MS} > {c}/idle_timeout_ms
echo {config.KEEPALIVE_DELAY_MS} > {c}/keepalive_delay_ms
echo {config.RECONNECT_DELAY_MS} > {c}/reconnect_delay_ms
"""


def device_by_serial_script(label: str) -> str:
    """Shell that prints /dev/vdX for the virtio disk whose serial is ``label``."""
    q = shlex.quote(label)
    # Ends in `true`: the loop's status is its last test's, which must not trip `set -e`.
    return (f'for b in /sys/block/vd*; do [ "$(cat $b/serial 2>/dev/null)" = {q} ] '
            '&& echo /dev/${b##*/}; done; true')


def mountpoint(label: str) -> str:
    return f"{config.MOUNT_ROOT}/{label}"


def mount_script(label: str) -> str:
    mnt = mountpoint(label)
    return f"""set -e
dev=$({device_by_serial_script(label)})
[ -n "$dev" ] || {{ echo "no disk with serial {label}" >&2; exit 2; }}
mkdir -p {mnt}
if ! mountpoint -q {mnt}; then
    mount -t ocfs2 -o {config.MOUNT_OPTIONS} "$dev" {mnt}
fi
"""


def mkfs_args(label: str) -> list[str]:
    return ["mkfs.ocfs2", "-q", "-F", "--cluster-stack=o2cb", f"--cluster-name={config.CLUSTER}",
            "-N", str(config.SLOTS), "-b", "4K", "-C", "4K", "-L", label,
            "--fs-features=refcount,xattr"]


def mkfs_host(path: Path, label: str) -> None:
    """Format a raw image file on the host (no cluster needed for a plain file)."""
    subprocess.run([*mkfs_args(label), str(path)], check=True, capture_output=True)
