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
"""The lab's guest agent: runs commands for the host over a virtio-serial port.

It runs inside each node under ``tini`` (the node's PID 1), with the guest's
Debian python3 and the standard library only. It is read from the repo's
9p share, so it changes without an image rebuild.

Protocol, one JSON object per line in each direction::

    request:  {"id": "...", "op": "exec", "cmd": [...] | "shell string",
               "timeout": 300, "env": {...}, "input": "<base64>",
               "cwd": "/", "background": false, "log": "/path"}
              {"id": "...", "op": "ping"}
              {"id": "...", "op": "read_file", "path": "..."}
              {"id": "...", "op": "write_file", "path": "...", "data": "<b64>", "mode": 420}
    response: {"id": "...", "rc": 0, "stdout": "<b64>", "stderr": "<b64>",
               "timed_out": false, "pid": 123, "error": null}

The node has several such ports (``lab.agent.0`` ...); the host uses one
connection per call on a port it has locked, so several host processes can
work at once. Each request runs in its own thread. A string ``cmd`` runs
under ``/bin/sh -c``. ``background`` starts the command in a new session
with its output sent to ``log`` (default /dev/null) and answers at once with
its pid.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import threading
import time
from typing import Any

PORT_PREFIX = "lab.agent."
DEFAULT_TIMEOUT = 600.0


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def find_ports() -> list[str]:
    """The /dev nodes of our virtio-serial ports (devtmpfs creates them; no udev)."""
    root = "/sys/class/virtio-ports"
    for _ in range(300):
        found = []
        for entry in sorted(os.listdir(root)) if os.path.isdir(root) else []:
            try:
                with open(os.path.join(root, entry, "name")) as f:
                    name = f.read().strip()
            except OSError:
                continue
            if name.startswith(PORT_PREFIX) and os.path.exists(f"/dev/{entry}"):
                found.append(f"/dev/{entry}")
        if found:
            return found
        time.sleep(0.1)
    raise SystemExit(f"agent: no virtio port named {PORT_PREFIX}*")


class Agent:
    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_RDWR)
        self.wlock = threading.Lock()

    def send(self, msg: dict[str, Any]) -> None:
        data = (json.dumps(msg) + "\n").encode()
        with self.wlock:
            # Blocks while no host client is connected; the next client drops
            # answers whose id it does not know.
            while data:
                n = os.write(self.fd, data)
                data = data[n:]

    def serve(self) -> None:
        buf = b""
        while True:
            chunk = os.read(self.fd, 1 << 16)
            if not chunk:  # no host connected: read() returns EOF at once
                buf = b""
                time.sleep(0.05)
                continue
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                if line.strip():
                    threading.Thread(target=self.handle, args=(line,), daemon=True).start()

    def handle(self, line: bytes) -> None:
        req: dict[str, Any] = {}
        try:
            req = json.loads(line)
            resp = self.dispatch(req)
        except Exception as exc:  # report every failure to the host
            resp = {"rc": 255, "stdout": "", "stderr": b64(repr(exc).encode()), "error": repr(exc)}
        resp["id"] = req.get("id")
        self.send(resp)

    def dispatch(self, req: dict[str, Any]) -> dict[str, Any]:
        op = req.get("op", "exec")
        if op == "ping":
            return {"rc": 0, "stdout": b64(os.uname().nodename.encode()), "stderr": ""}
        if op == "read_file":
            with open(req["path"], "rb") as f:
                return {"rc": 0, "stdout": b64(f.read()), "stderr": ""}
        if op == "write_file":
            with open(req["path"], "wb") as f:
                f.write(base64.b64decode(req["data"]))
            os.chmod(req["path"], req.get("mode", 0o644))
            return {"rc": 0, "stdout": "", "stderr": ""}
        if op == "exec":
            return self.run(req)
        raise ValueError(f"unknown op {op!r}")

    def run(self, req: dict[str, Any]) -> dict[str, Any]:
        cmd = req["cmd"]
        shell = isinstance(cmd, str)
        env = dict(os.environ)
        env.update(req.get("env") or {})
        cwd = req.get("cwd") or "/"
        if req.get("background"):
            with open(req.get("log") or "/dev/null", "ab") as log:
                proc = subprocess.Popen(
                    cmd, shell=shell, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            return {"rc": 0, "stdout": "", "stderr": "", "pid": proc.pid}
        data = base64.b64decode(req["input"]) if req.get("input") else None
        proc = subprocess.Popen(
            cmd, shell=shell, env=env, cwd=cwd,
            stdin=subprocess.PIPE if data is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        timed_out = False
        try:
            out, err = proc.communicate(data, timeout=req.get("timeout") or DEFAULT_TIMEOUT)
        except subprocess.TimeoutExpired:
            timed_out = True
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                out, err = proc.communicate(timeout=10)
            except subprocess.TimeoutExpired:  # a grandchild still holds the pipes
                out, err = b"", b"agent: output lost after timeout\n"
        return {"rc": 124 if timed_out else proc.returncode, "stdout": b64(out),
                "stderr": b64(err), "timed_out": timed_out, "pid": proc.pid}


def main() -> None:
    paths = find_ports()
    time.sleep(0.5)  # let the remaining ports of a multi-port device appear
    paths = find_ports()
    print(f"agent: serving on {' '.join(paths)}", file=sys.stderr, flush=True)
    threads = [threading.Thread(target=Agent(p).serve, daemon=True) for p in paths]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


if __name__ == "__main__":
    main()
