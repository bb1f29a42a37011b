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
"""Constants and paths shared by the lab modules. One place to change them."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
# LAB_NAME runs a second, independent lab beside the default one (its own netns
# and state dir; the same addresses inside its own netns), e.g. LAB_NAME=mine.
LAB_NAME = os.environ.get("LAB_NAME", "")
_SUFFIX = f"-{LAB_NAME}" if LAB_NAME else ""
_DEFAULT_STATE = REPO_ROOT / ".lab" / "labs" / LAB_NAME if LAB_NAME else REPO_ROOT / ".lab"
STATE_DIR = Path(os.environ.get("LAB_STATE_DIR", str(_DEFAULT_STATE)))
CACHE_DIR = Path(
    os.environ.get("LAB_CACHE_DIR", str(Path.home() / ".cache" / "cinder-ocfs2-lab"))
)

# Networking: everything lives in this netns; nothing is routed out of it.
NETNS = f"cinder-ocfs2-lab{_SUFFIX}"
BRIDGE = "labbr0"
HOST_IP = "10.77.0.1"
PREFIX = 24
NODE_IP_BASE = 10  # node N gets 10.77.0.(10+N)

# Cluster.
CLUSTER = "labcluster"
O2CB_PORT = 7777
MAX_NODES = 4
SLOTS = 8
MOUNT_ROOT = "/var/lib/cinder/ocfs2"
# The operators' production options (../shared/README.md).
MOUNT_OPTIONS = (
    "rw,relatime,_netdev,heartbeat=local,nointr,data=ordered,errors=remount-ro,"
    "atime_quantum=60,coherency=full,user_xattr,acl"
)
# o2cb timeouts, uniform on every node. Lowered from the defaults
# (threshold 31 = 60 s, idle 30000 ms) so fault tests finish sooner.
# (11 - 1) * 2 s = 20 s to declare a node dead. Long benchmarks raise them
# (LAB_HEARTBEAT_THRESHOLD=91 LAB_IDLE_TIMEOUT_MS=90000): under 8 GiB copies
# a TCG node stalled for 82 s and o2hb fenced it.
HEARTBEAT_THRESHOLD = int(os.environ.get("LAB_HEARTBEAT_THRESHOLD", "11"))
IDLE_TIMEOUT_MS = int(os.environ.get("LAB_IDLE_TIMEOUT_MS", "10000"))
KEEPALIVE_DELAY_MS = 2000
RECONNECT_DELAY_MS = 2000

# Guest paths.
GUEST_SRC = "/opt/cinder-ocfs2"  # read-only 9p share of REPO_ROOT
GUEST_SHARE = "/lab-share"  # writable 9p share of STATE_DIR/share
GUEST_VENV = "/opt/venv"
# The compute image's second venv (nova-compute; sees Debian's python3-libvirt).
GUEST_NOVA_VENV = "/opt/nova-venv"

# LAB_COMPUTE=1: the node image also carries libvirt, qemu and nova-compute
# (lab/image.py; e2e sets it from E2E_NOVA=1). Off: the image is unchanged.
COMPUTE = os.environ.get("LAB_COMPUTE", "0") == "1"

# VM sizing.
NODE_MEMORY_MB = int(os.environ.get("LAB_NODE_MEMORY_MB", "1536"))
# The first pool's disk (lab0), sparse on the host: LAB_DISK_SIZE=32G for
# bench_api.py --sizes 8 (it needs about 3x the largest size free).
DEFAULT_DISK_SIZE = os.environ.get("LAB_DISK_SIZE", "4G")
DEFAULT_LABEL = "lab0"


def node_name(index: int) -> str:
    return f"node{index}"


def node_index(name: str) -> int:
    if not name.startswith("node") or not name[4:].isdigit():
        raise ValueError(f"not a lab node name: {name!r}")
    return int(name[4:])


def node_ip(index: int) -> str:
    return f"10.77.0.{NODE_IP_BASE + index}"
