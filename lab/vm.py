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
"""One lab node as a qemu TCG process: start, kill, QMP, hot-plug.

Each node's files live in ``STATE_DIR/<name>/``: its root overlay (a qcow2
backed by the cached image), console log, pid file and the agent and QMP
sockets. qemu runs inside the lab's netns.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab import config, netns
from lab.image import Image

# virtio-serial ports for the agent: each serves one host call at a time.
AGENT_PORTS = 8


@dataclass(frozen=True)
class Disk:
    """A shared raw disk, attached to every node with the same serial (its label)."""

    label: str
    path: Path

    @property
    def drive_id(self) -> str:
        return f"drv-{self.label}"

    @property
    def device_id(self) -> str:
        return f"dev-{self.label}"

    def drive_opts(self) -> str:
        return f"file={self.path},if=none,id={self.drive_id},format=raw,file.locking=off"

    def device_opts(self) -> str:
        return (f"virtio-blk-pci,drive={self.drive_id},id={self.device_id},"
                f"serial={self.label},share-rw=on")


class VM:
    def __init__(self, index: int, state_dir: Path = config.STATE_DIR) -> None:
        self.index = index
        self.name = config.node_name(index)
        self.ip = config.node_ip(index)
        self.dir = state_dir / self.name
        self.share_dir = state_dir / "share"

    overlay = property(lambda self: self.dir / "root.qcow2")
    console = property(lambda self: self.dir / "console.log")
    pidfile = property(lambda self: self.dir / "qemu.pid")

    def agent_sock(self, port: int) -> Path:
        return self.dir / f"agent{port}.sock"

    qmp_sock = property(lambda self: self.dir / "qmp.sock")

    def pid(self) -> int | None:
        try:
            pid = int(self.pidfile.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return None
        return pid if b"qemu" in cmdline else None

    def running(self) -> bool:
        return self.pid() is not None

    def create_overlay(self, image: Image) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.overlay.unlink(missing_ok=True)
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw",
                        "-b", str(image.root), str(self.overlay)], check=True)

    def command(self, image: Image, disks: list[Disk]) -> list[str]:
        mac = f"52:54:00:77:00:{self.index:02x}"
        append = " ".join([
            "root=/dev/vda", "rw", "console=ttyS0", "panic=-1", "mitigations=off",
            "init=/usr/local/sbin/lab-init",
            f"lab.hostname={self.name}", f"lab.ip={self.ip}/{config.PREFIX}",
        ])
        cmd = [
            "qemu-system-x86_64", "-name", self.name, "-accel", "tcg", "-machine", "pc",
            "-m", str(config.NODE_MEMORY_MB), "-smp", "1",
            "-display", "none", "-monitor", "none", "-no-reboot",
            "-serial", f"file:{self.console}",
            "-kernel", str(image.kernel), "-initrd", str(image.initrd), "-append", append,
            "-drive", f"file={self.overlay},if=none,id=root,format=qcow2,cache=unsafe",
            "-device", "virtio-blk-pci,drive=root,id=dev-root,serial=root",
        ]
        for disk in disks:
            cmd += ["-drive", disk.drive_opts(), "-device", disk.device_opts()]
        cmd += [
            "-netdev", f"tap,id=net0,ifname={netns.tap_name(self.index)},script=no,downscript=no",
            # romfile=: no iPXE option ROM, nothing boots from the network.
            "-device", f"virtio-net-pci,netdev=net0,mac={mac},romfile=",
            "-virtfs", f"local,path={config.REPO_ROOT},mount_tag=src,security_model=none,"
                       "readonly=on,id=src",
            "-virtfs", f"local,path={self.share_dir},mount_tag=share,security_model=none,id=share",
            "-device", "virtio-serial-pci,id=vser0",
        ]
        for port in range(AGENT_PORTS):
            cmd += [
                "-chardev", f"socket,id=agent{port},path={self.agent_sock(port)},"
                            "server=on,wait=off",
                "-device", f"virtserialport,bus=vser0.0,chardev=agent{port},"
                           f"name=lab.agent.{port}",
            ]
        cmd += [
            "-qmp", f"unix:{self.qmp_sock},server=on,wait=off",
            "-pidfile", str(self.pidfile), "-daemonize",
        ]
        return cmd

    def start(self, image: Image, disks: list[Disk]) -> None:
        if self.running():
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        self.share_dir.mkdir(parents=True, exist_ok=True)
        if not self.overlay.exists():
            self.create_overlay(image)
        for path in (*self.dir.glob("agent*.sock"), self.qmp_sock, self.pidfile):
            path.unlink(missing_ok=True)
        netns.ensure_tap(self.index)
        self.console.write_bytes(b"")
        with (self.dir / "qemu.log").open("ab") as log:
            subprocess.run(netns.wrap(self.command(image, disks)), check=True,
                           stdout=log, stderr=subprocess.STDOUT)

    def kill(self) -> None:
        """Hard power-off: SIGKILL, like pulling the plug."""
        pid = self.pid()
        if pid is None:
            return
        os.kill(pid, signal.SIGKILL)
        for _ in range(100):
            if not Path(f"/proc/{pid}").exists():
                break
            time.sleep(0.05)

    def qmp(self, command: str, **arguments: Any) -> Any:
        """Run one QMP command and return its result."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(30)
            sock.connect(str(self.qmp_sock))
            stream = sock.makefile("rwb")
            json.loads(stream.readline())  # greeting

            def call(cmd: str, args: dict[str, Any]) -> Any:
                msg: dict[str, Any] = {"execute": cmd}
                if args:
                    msg["arguments"] = args
                stream.write(json.dumps(msg).encode() + b"\n")
                stream.flush()
                while True:
                    reply = json.loads(stream.readline())
                    if "event" in reply:
                        continue
                    if "error" in reply:
                        raise RuntimeError(f"{self.name}: QMP {cmd}: {reply['error']}")
                    return reply.get("return")

            call("qmp_capabilities", {})
            return call(command, arguments)

    def hmp(self, line: str) -> str:
        return str(self.qmp("human-monitor-command", **{"command-line": line}))

    def hotplug(self, disk: Disk) -> None:
        out = self.hmp(f"drive_add 0 {disk.drive_opts()}")
        if "OK" not in out:
            raise RuntimeError(f"{self.name}: drive_add {disk.label}: {out}")
        drive, opts = disk.device_opts().split(",", 1)
        args = dict(kv.split("=", 1) for kv in opts.split(","))
        self.qmp("device_add", driver=drive, **args)
