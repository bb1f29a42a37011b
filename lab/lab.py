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
"""The lab as a whole: bring nodes up, form the cluster, attach and mount disks.

State (which nodes and disks exist) is kept in ``STATE_DIR/lab.json`` so that
separate invocations (``lab up``, ``lab exec``, ``lab kill`` ...) agree.

Typical use::

    from lab.lab import up
    lab = up(nodes=2)                    # or Lab() to use a running one
    r = lab.node("node1").exec("mount -t ocfs2")
    r = lab.node("node2").exec(["cat", "/var/lib/cinder/ocfs2/lab0/x"], check=True)
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from lab import cluster, config, image, netns
from lab.client import AgentClient, CommandFailed, Result
from lab.vm import VM, Disk

T = TypeVar("T")
LABEL_RE = re.compile(r"^[A-Za-z0-9_.-]{1,20}$")


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def parallel(fn: Callable[[T], Any], items: Iterable[T]) -> None:
    """Run ``fn`` on every item in threads; re-raise the first failure."""
    errors: list[BaseException] = []

    def run(item: T) -> None:
        try:
            fn(item)
        except BaseException as exc:  # noqa: B036 - re-raised below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in items]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


class Node:
    """A lab node: its VM plus the agent channel. ``exec`` runs a command on it."""

    def __init__(self, index: int, state_dir: Path) -> None:
        self.index = index
        self.name = config.node_name(index)
        self.ip = config.node_ip(index)
        self.vm = VM(index, state_dir)
        self.agent = AgentClient(self.vm.dir, self.name)

    def __repr__(self) -> str:
        return f"<Node {self.name} {self.ip}>"

    def exec(self, cmd: list[str] | str, timeout: float = 300.0, check: bool = False,
             env: dict[str, str] | None = None, input: bytes | str | None = None,
             cwd: str | None = None) -> Result:
        """Run ``cmd`` (argv list, or a string for /bin/sh -c) and wait for it."""
        result = self.agent.exec(cmd, timeout=timeout, env=env, input=input, cwd=cwd)
        if check and result.rc != 0:
            raise CommandFailed(self.name, cmd, result)
        return result

    def sh(self, script: str, timeout: float = 300.0) -> str:
        """Run a shell script, fail on a non-zero exit, return its stdout."""
        return self.exec(script, timeout=timeout, check=True).stdout

    def spawn(self, cmd: list[str] | str, log: str = "/dev/null",
              env: dict[str, str] | None = None, cwd: str | None = None) -> int:
        """Start ``cmd`` in the background (new session, output to ``log``); return its pid."""
        result = self.agent.exec(cmd, env=env, cwd=cwd, background=True, log=log, timeout=30)
        if result.rc != 0 or result.pid is None:
            raise CommandFailed(self.name, cmd, result)
        return result.pid

    def read_file(self, path: str) -> bytes:
        return self.agent.read_file(path)

    def write_file(self, path: str, data: bytes | str, mode: int = 0o644) -> None:
        self.agent.write_file(path, data, mode)

    def running(self) -> bool:
        return self.vm.running()


@dataclass
class State:
    nodes: int = 0
    disks: list[str] = field(default_factory=list)  # labels, in attach order
    formatted: dict[str, bool] = field(default_factory=dict)
    image: str = ""  # the image dir the nodes' overlays are backed by

    @classmethod
    def load(cls, path: Path) -> State:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return cls()
        return cls(nodes=data.get("nodes", 0), disks=list(data.get("disks", [])),
                   formatted=dict(data.get("formatted", {})), image=data.get("image", ""))

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.__dict__, indent=1) + "\n")


class Lab:
    def __init__(self, state_dir: Path = config.STATE_DIR) -> None:
        self.state_dir = state_dir
        self.state_file = state_dir / "lab.json"
        self.disk_dir = state_dir / "disks"
        self.share_dir = state_dir / "share"
        self.state = State.load(self.state_file)
        self._nodes: dict[int, Node] = {}
        self.timings: dict[str, float] = {}

    # -- accessors -------------------------------------------------------
    @property
    def nodes(self) -> list[Node]:
        return [self.node(i) for i in range(1, self.state.nodes + 1)]

    def node(self, which: str | int) -> Node:
        index = which if isinstance(which, int) else config.node_index(which)
        if index not in self._nodes:
            self._nodes[index] = Node(index, self.state_dir)
        return self._nodes[index]

    def disk(self, label: str) -> Disk:
        return Disk(label, self.disk_dir / f"{label}.img")

    @property
    def disks(self) -> list[Disk]:
        return [self.disk(label) for label in self.state.disks]

    def mountpoint(self, label: str = config.DEFAULT_LABEL) -> str:
        return cluster.mountpoint(label)

    def running_nodes(self) -> list[Node]:
        return [n for n in self.nodes if n.running()]

    def is_up(self) -> bool:
        return self.state.nodes > 0 and len(self.running_nodes()) == self.state.nodes

    # -- lifecycle -------------------------------------------------------
    def up(self, nodes: int = 2, disks: tuple[str, ...] = (config.DEFAULT_LABEL,),
           disk_size: str = config.DEFAULT_DISK_SIZE, say: Callable[[str], None] = _say) -> Lab:
        """Boot ``nodes`` fresh nodes sharing ``disks``, form the cluster, mount everything."""
        if not 1 <= nodes <= config.MAX_NODES:
            raise ValueError(f"nodes must be 1..{config.MAX_NODES}")
        for label in disks:
            if not LABEL_RE.match(label):
                raise ValueError(f"bad disk label {label!r} (max 20 chars [A-Za-z0-9_.-])")
        t0 = time.monotonic()
        img = image.build(say=say)
        self.timings["image"] = time.monotonic() - t0
        self.down(quiet=True)
        self.state = State(nodes=nodes, disks=list(disks), image=str(img.dir))
        self.disk_dir.mkdir(parents=True, exist_ok=True)
        for label in disks:
            self._create_disk(label, disk_size)
            cluster.mkfs_host(self.disk(label).path, label)
            self.state.formatted[label] = True
        self.state.save(self.state_file)
        cluster.write_share_files(self.share_dir, nodes)
        netns.ensure()
        t1 = time.monotonic()
        say(f"lab: booting {nodes} node(s)")
        for node in self.nodes:
            node.vm.create_overlay(img)
            node.vm.start(img, self.disks)
        parallel(self._wait_agent, self.nodes)
        self.timings["boot_to_agent"] = time.monotonic() - t1
        say(f"lab: agents ready after {self.timings['boot_to_agent']:.0f}s; forming the cluster")
        parallel(self._join, self.nodes)
        self.timings["boot_to_mounted"] = time.monotonic() - t1
        say(f"lab: cluster {config.CLUSTER} up with {nodes} node(s), "
            f"{', '.join(self.mountpoint(d) for d in disks)} mounted "
            f"({self.timings['boot_to_mounted']:.0f}s after boot)")
        return self

    def down(self, quiet: bool = False) -> None:
        """Power off every node and remove the netns; disks and overlays are discarded."""
        for node in [self.node(i) for i in range(1, config.MAX_NODES + 1)]:
            node.agent.close()
            node.vm.kill()
        netns.destroy()
        if self.state_dir.exists():
            for sub in ["disks", *(config.node_name(i) for i in range(1, config.MAX_NODES + 1))]:
                subprocess.run(["rm", "-rf", str(self.state_dir / sub)], check=False)
            self.state_file.unlink(missing_ok=True)
        self.state = State()
        if not quiet:
            _say("lab: down")

    def kill(self, name: str) -> None:
        node = self.node(name)
        node.agent.close()
        node.vm.kill()

    def start(self, name: str, say: Callable[[str], None] = _say) -> float:
        """Boot a (killed) node again on its old overlay, rejoin and mount; return seconds."""
        node = self.node(name)
        t0 = time.monotonic()
        node.agent.close()
        img = image.Image(Path(self.state.image)) if self.state.image else image.build(say=say)
        if not img.exists():  # pruned: overlays of the old image cannot boot
            img = image.build(say=say)
            node.vm.create_overlay(img)
        node.vm.start(img, self.disks)
        self._wait_agent(node)
        self._join(node)
        return time.monotonic() - t0

    def _wait_agent(self, node: Node) -> None:
        try:
            node.agent.wait_ready(timeout=300)
        except Exception as exc:
            tail = node.vm.console.read_text(errors="replace")[-3000:]
            raise RuntimeError(
                f"{node.name} did not come up: {exc}\n--- console tail\n{tail}") from exc

    def _join(self, node: Node) -> None:
        node.sh(cluster.register_script(), timeout=120)
        for label in self.state.disks:
            if self.state.formatted.get(label):
                node.sh(cluster.mount_script(label), timeout=180)

    # -- disks -----------------------------------------------------------
    def _create_disk(self, label: str, size: str) -> Disk:
        disk = self.disk(label)
        if disk.path.exists():
            raise ValueError(f"disk {label} exists already")
        subprocess.run(["qemu-img", "create", "-q", "-f", "raw", str(disk.path), size],
                       check=True)
        return disk

    def add_disk(self, label: str | None = None, size: str = "2G", format: bool = False,
                 mount: bool = False) -> Disk:
        """Create a raw disk and hot-attach it to every running node (QMP device_add)."""
        if label is None:
            label = next(f"lab{i}" for i in range(1, 100) if f"lab{i}" not in self.state.disks)
        if not LABEL_RE.match(label) or label in self.state.disks:
            raise ValueError(f"bad or duplicate disk label {label!r}")
        disk = self._create_disk(label, size)
        self.state.disks.append(label)
        self.state.formatted[label] = False
        self.state.save(self.state_file)
        running = self.running_nodes()
        for node in running:
            node.vm.hotplug(disk)
        for node in running:
            self.wait_device(node, label)
        if format or mount:
            self.format_disk(label)
        if mount:
            for node in running:
                node.sh(cluster.mount_script(label), timeout=180)
        return disk

    def wait_device(self, node: Node, label: str, timeout: float = 60) -> str:
        """Wait until ``node`` sees the disk with serial ``label``; return its /dev path."""
        deadline = time.monotonic() + timeout
        while True:
            dev = node.exec(cluster.device_by_serial_script(label)).stdout.strip()
            if dev:
                return dev
            if time.monotonic() > deadline:
                raise RuntimeError(f"{node.name}: disk {label} did not appear")
            time.sleep(1)

    def device(self, node: Node | str, label: str = config.DEFAULT_LABEL) -> str:
        n = node if isinstance(node, Node) else self.node(node)
        return self.wait_device(n, label, timeout=0)

    def format_disk(self, label: str) -> None:
        """Format a shared disk with mkfs.ocfs2, run on the first running node."""
        node = self.running_nodes()[0]
        dev = self.device(node, label)
        node.exec([*cluster.mkfs_args(label), dev], timeout=300, check=True)
        self.state.formatted[label] = True
        self.state.save(self.state_file)

    def mount(self, label: str, nodes: Iterable[Node] | None = None) -> None:
        for node in nodes or self.running_nodes():
            node.sh(cluster.mount_script(label), timeout=180)

    # -- status ----------------------------------------------------------
    def status(self) -> dict[str, Any]:
        out: dict[str, Any] = {"netns": config.NETNS if netns.exists() else None,
                               "host_ip": config.HOST_IP, "cluster": config.CLUSTER,
                               "disks": self.state.disks, "nodes": {}}
        for node in self.nodes:
            info: dict[str, Any] = {"ip": node.ip, "running": node.running(), "pid": node.vm.pid()}
            if info["running"]:
                try:
                    r = node.exec("grep ' ocfs2 ' /proc/mounts | cut -d' ' -f2", timeout=20)
                    info["ocfs2_mounts"] = r.stdout.split()
                except Exception as exc:  # a status report must not fail
                    info["agent"] = f"unreachable: {exc}"
            out["nodes"][node.name] = info
        return out


def up(nodes: int = 2, **kwargs: Any) -> Lab:
    """Bring up a fresh lab and return it (the API ``lab demo`` and the fixtures use)."""
    return Lab().up(nodes=nodes, **kwargs)


def shell_join(argv: list[str]) -> str:
    return " ".join(shlex.quote(a) for a in argv)
