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
"""Host side of the agent channel: talk to lab/guest/agent.py over a unix socket.

qemu exposes each node's virtio-serial port as a unix socket in the state dir.
See :class:`AgentClient` for how calls share a node's ports.
"""

from __future__ import annotations

import base64
import fcntl
import json
import socket
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any


class AgentError(RuntimeError):
    """The agent could not be reached or did not answer."""


class CommandFailed(RuntimeError):
    def __init__(self, node: str, cmd: object, result: Result) -> None:
        super().__init__(
            f"{node}: {cmd!r} exited {result.rc}\n--- stdout\n{result.stdout}"
            f"\n--- stderr\n{result.stderr}")
        self.result = result


@dataclass(frozen=True)
class Result:
    rc: int
    stdout_bytes: bytes
    stderr_bytes: bytes
    timed_out: bool = False
    pid: int | None = None

    @property
    def stdout(self) -> str:
        return self.stdout_bytes.decode("utf-8", "replace")

    @property
    def stderr(self) -> str:
        return self.stderr_bytes.decode("utf-8", "replace")

    @property
    def ok(self) -> bool:
        return self.rc == 0


class AgentClient:
    """Calls into one node's agent.

    The node has several virtio-serial ports, each a unix socket on the host
    (``agent<N>.sock`` in the node's state dir). qemu serves one connection per
    socket at a time, so a call first takes an exclusive ``flock`` on a free
    port's lock file (which works across processes and threads), connects,
    sends its request, reads until the answer with its id, and disconnects.
    """

    def __init__(self, node_dir: Path, name: str = "") -> None:
        self.node_dir = node_dir
        self.name = name or node_dir.name

    def close(self) -> None:
        """Nothing to do: connections only live for one call (kept for callers)."""

    def _acquire(self, deadline: float) -> tuple[socket.socket, IO[str]]:
        while True:
            socks = sorted(self.node_dir.glob("agent*.sock"))
            if not socks:
                raise AgentError(f"{self.name}: no agent sockets in {self.node_dir}")
            for path in socks:
                lock = open(path.with_suffix(".lock"), "a")  # noqa: SIM115 - held past return
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    lock.close()
                    continue
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    sock.connect(str(path))
                except OSError as exc:
                    sock.close()
                    lock.close()
                    raise AgentError(f"{self.name}: cannot connect to {path}: {exc}") from exc
                return sock, lock
            if time.monotonic() > deadline:
                raise AgentError(f"{self.name}: every agent port stayed busy")
            time.sleep(0.1)

    def call(self, request: dict[str, Any], timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        rid = uuid.uuid4().hex
        sock, lock = self._acquire(deadline)
        try:
            sock.sendall((json.dumps({**request, "id": rid}) + "\n").encode())
            buf = b""
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AgentError(f"{self.name}: no answer within {timeout:.0f}s")
                sock.settimeout(remaining)
                try:
                    chunk = sock.recv(1 << 20)
                except TimeoutError:
                    continue
                except OSError as exc:
                    raise AgentError(f"{self.name}: connection lost: {exc}") from exc
                if not chunk:
                    raise AgentError(f"{self.name}: connection lost (node killed?)")
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    try:
                        msg = json.loads(line)
                    except ValueError:
                        continue
                    if msg.get("id") == rid:  # else: a late answer to an abandoned call
                        return dict(msg)
        finally:
            sock.close()
            lock.close()

    def ping(self, timeout: float = 5.0) -> str:
        return _decode(self.call({"op": "ping"}, timeout)["stdout"]).decode()

    def wait_ready(self, timeout: float = 180.0) -> float:
        """Wait until the agent answers; return the seconds waited."""
        t0 = time.monotonic()
        last: Exception | None = None
        while time.monotonic() - t0 < timeout:
            try:
                self.ping(timeout=3.0)
                return time.monotonic() - t0
            except AgentError as exc:
                last = exc
                time.sleep(0.5)
        raise AgentError(f"{self.name}: agent not ready after {timeout:.0f}s: {last}")

    def exec(self, cmd: list[str] | str, timeout: float = 300.0,
             env: dict[str, str] | None = None, input: bytes | str | None = None,
             cwd: str | None = None, background: bool = False,
             log: str | None = None) -> Result:
        req: dict[str, Any] = {"op": "exec", "cmd": cmd, "timeout": timeout,
                               "background": background}
        if env:
            req["env"] = env
        if cwd:
            req["cwd"] = cwd
        if log:
            req["log"] = log
        if input is not None:
            raw = input.encode() if isinstance(input, str) else input
            req["input"] = base64.b64encode(raw).decode()
        msg = self.call(req, timeout + 30.0)
        return Result(rc=int(msg.get("rc", 255)), stdout_bytes=_decode(msg.get("stdout")),
                      stderr_bytes=_decode(msg.get("stderr")),
                      timed_out=bool(msg.get("timed_out")), pid=msg.get("pid"))

    def read_file(self, path: str, timeout: float = 60.0) -> bytes:
        msg = self.call({"op": "read_file", "path": path}, timeout)
        if msg.get("rc"):
            raise AgentError(f"{self.name}: read {path}: {_decode(msg.get('stderr')).decode()}")
        return _decode(msg["stdout"])

    def write_file(self, path: str, data: bytes | str, mode: int = 0o644,
                   timeout: float = 60.0) -> None:
        raw = data.encode() if isinstance(data, str) else data
        msg = self.call({"op": "write_file", "path": path, "mode": mode,
                         "data": base64.b64encode(raw).decode()}, timeout)
        if msg.get("rc"):
            raise AgentError(f"{self.name}: write {path}: {_decode(msg.get('stderr')).decode()}")


def _decode(value: str | None) -> bytes:
    return base64.b64decode(value) if value else b""
