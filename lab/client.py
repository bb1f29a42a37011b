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
One connection per client object carries any number of concurrent requests;
answers are matched to requests by id.
"""

from __future__ import annotations

import base64
import json
import queue
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any


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
    def __init__(self, sock_path: Path, name: str = "") -> None:
        self.sock_path = sock_path
        self.name = name or sock_path.name
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._pending: dict[str, queue.Queue[dict[str, Any] | None]] = {}

    def close(self) -> None:
        with self._lock:
            if self._sock is not None:
                try:
                    self._sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                self._sock.close()
                self._sock = None

    def _connect(self) -> socket.socket:
        if self._sock is None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(str(self.sock_path))
            except OSError as exc:
                sock.close()
                raise AgentError(f"{self.name}: cannot connect to {self.sock_path}: {exc}") from exc
            self._sock = sock
            threading.Thread(target=self._reader, args=(sock,), daemon=True).start()
        return self._sock

    def _reader(self, sock: socket.socket) -> None:
        try:
            with sock.makefile("rb") as stream:
                for line in stream:
                    try:
                        msg = json.loads(line)
                    except ValueError:
                        continue
                    slot = self._pending.pop(str(msg.get("id")), None)
                    if slot is not None:
                        slot.put(msg)
        except OSError:
            pass
        with self._lock:
            if self._sock is sock:
                self._sock = None
            pending, self._pending = self._pending, {}
        for slot in pending.values():
            slot.put(None)

    def call(self, request: dict[str, Any], timeout: float) -> dict[str, Any]:
        rid = uuid.uuid4().hex
        slot: queue.Queue[dict[str, Any] | None] = queue.Queue()
        data = (json.dumps({**request, "id": rid}) + "\n").encode()
        with self._lock:
            sock = self._connect()
            self._pending[rid] = slot
            try:
                sock.sendall(data)
            except OSError as exc:
                self._pending.pop(rid, None)
                self._sock = None
                raise AgentError(f"{self.name}: send failed: {exc}") from exc
        try:
            msg = slot.get(timeout=timeout)
        except queue.Empty:
            self._pending.pop(rid, None)
            raise AgentError(f"{self.name}: no answer within {timeout:.0f}s") from None
        if msg is None:
            raise AgentError(f"{self.name}: connection lost (node killed?)")
        return msg

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
                self.close()
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
