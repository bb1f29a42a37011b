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
"""Fixtures for the CLI tests: a fake executor that records exact argv."""

from __future__ import annotations

import json
import pathlib
from collections.abc import Callable, Sequence

import pytest

from cinder_ocfs2 import executor

RECORDED = pathlib.Path(__file__).resolve().parents[2] / "fixtures" / "recorded"


def recorded(name: str) -> str:
    return (RECORDED / name).read_text()


class FakeExec:
    """Replaces ``executor.runner``: answers by argv prefix, records every call."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.rules: list[tuple[tuple[str, ...], Callable[[list[str]], executor.Result]]] = []

    def on(self, prefix: Sequence[str], stdout: str = "", rc: int = 0, stderr: str = "",
           json_out: object = None) -> None:
        out = json.dumps(json_out) if json_out is not None else stdout
        self.rules.insert(0, (tuple(prefix), lambda argv: executor.Result(
            tuple(argv), rc, out, stderr)))

    def __call__(self, argv: Sequence[str], timeout: float, input: str | None
                 ) -> executor.Result:
        argv = list(argv)
        self.calls.append(argv)
        for prefix, answer in self.rules:
            if tuple(argv[:len(prefix)]) == prefix:
                return answer(argv)
        return executor.Result(tuple(argv), 0, "", "")

    def ran(self, first: str) -> list[list[str]]:
        return [c for c in self.calls if first in c]


@pytest.fixture(autouse=True)
def addresses_are_local(monkeypatch: pytest.MonkeyPatch) -> None:
    """The lab's node addresses are not on this host; pretend they are."""
    from cinder_ocfs2.cli import facts

    monkeypatch.setattr(facts, "address_is_local", lambda ip: (True, None))


@pytest.fixture
def fake_exec(monkeypatch: pytest.MonkeyPatch) -> FakeExec:
    fake = FakeExec()
    monkeypatch.setattr(executor, "runner", fake)
    return fake


VOLINFO = """\
       Label: lab0
        UUID: 2A4D1C5E9B8F4C3DA1B2C3D4E5F60718
  Block Size: 4096
Cluster Size: 4096
  Node Slots: 8
    Features: backup-super strict-journal-super sparse extended-slotmap
    Features: inline-data xattr indexed-dirs refcount discontig-bg
"""
UUID = "2a4d1c5e-9b8f-4c3d-a1b2-c3d4e5f60718"
DOMAIN = "2A4D1C5E9B8F4C3DA1B2C3D4E5F60718"


def node_tree(root: pathlib.Path, *, hostname: str = "node1", local: str = "node1",
              registered: bool = True, mode: str = "local", read_only: bool = False,
              conf: str | None = None, live: str = "0 1 \n", connected: str = "1 \n",
              dlm_map: str = "0 1", fstab: str | None = None, mounted: bool = True):
    """A fake node: configfs, cluster.conf, debugfs, mountinfo, fstab; returns Sources."""
    from cinder_ocfs2.cli import facts

    cfs = root / "configfs"
    cfs.mkdir(parents=True)
    if registered:
        base = cfs / "labcluster"
        (base / "heartbeat").mkdir(parents=True)
        (base / "heartbeat" / "dead_threshold").write_text("31\n")
        (base / "heartbeat" / "mode").write_text(f"{mode}\n")
        (base / "idle_timeout_ms").write_text("30000\n")
        (base / "keepalive_delay_ms").write_text("2000\n")
        (base / "reconnect_delay_ms").write_text("2000\n")
        if mounted:
            (base / "heartbeat" / DOMAIN).mkdir()
        for name, num, ip in (("node1", 0, "10.77.0.11"), ("node2", 1, "10.77.0.12")):
            nd = base / "node" / name
            nd.mkdir(parents=True)
            (nd / "num").write_text(f"{num}\n")
            (nd / "ipv4_address").write_text(f"{ip}\n")
            (nd / "ipv4_port").write_text("7777\n")
            (nd / "local").write_text("1\n" if name == local else "0\n")
    conf_path = root / "cluster.conf"
    conf_path.write_text(conf if conf is not None else LAB_CONF)
    dbg = root / "debug"
    (dbg / "o2hb").mkdir(parents=True)
    (dbg / "o2hb" / "livenodes").write_text(live)
    (dbg / "o2net").mkdir()
    (dbg / "o2net" / "connected_nodes").write_text(connected)
    mp = root / "mnt" / "lab0"
    mp.mkdir(parents=True)
    if mounted:
        (dbg / "o2dlm" / DOMAIN).mkdir(parents=True)
        (dbg / "o2dlm" / DOMAIN / "dlm_state").write_text(
            f"Domain: {DOMAIN}  Len: 32  Key: 0x1  Protocol: 1.3\n"
            f"Thread Pid: 1  Node: 0  State: JOINED\nDomain Map: {dlm_map}\n"
            f"Live Map: {dlm_map}\n")
    opts = "ro,relatime" if read_only else "rw,relatime"
    lines = ["22 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw"]
    if mounted:
        lines.append(f"412 22 252:16 / {mp} {opts} shared:224 - ocfs2 /dev/vdb "
                     "rw,_netdev,heartbeat=local,nointr,data=ordered,errors=remount-ro,"
                     "coherency=full")
    (root / "mountinfo").write_text("\n".join(lines) + "\n")
    (root / "fstab").write_text(fstab if fstab is not None else
                                f"UUID={UUID}\t{mp}\tocfs2\t_netdev,defaults\t0 0\n")
    (root / "proc").mkdir()
    return facts.Sources(configfs_root=str(cfs), conf_path=str(conf_path), debugfs=str(dbg),
                         mountinfo_path=str(root / "mountinfo"), fstab=str(root / "fstab"),
                         proc=str(root / "proc"), hostname=hostname)


LAB_CONF = """\
cluster:
\tname = labcluster
\theartbeat_mode = local
\tnode_count = 2

node:
\tcluster = labcluster
\tnumber = 0
\tip_port = 7777
\tip_address = 10.77.0.11
\tname = node1

node:
\tcluster = labcluster
\tnumber = 1
\tip_port = 7777
\tip_address = 10.77.0.12
\tname = node2

"""


def answer_fs_tools(fake: FakeExec) -> None:
    fake.on(["o2info", "--volinfo"], VOLINFO)
    fake.on(["mounted.ocfs2", "-f"], "Device    Stack  Cluster     F  Nodes\n"
            "/dev/vdb  o2cb   labcluster     node1, node2\n")
