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
"""Start, watch and stop the host side's long-running processes inside the netns.

Each process gets ``STATE_DIR/<name>.pid`` and ``STATE_DIR/logs/<name>.log``.
It runs in its own session, so stopping it stops its children too.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from e2e import config


class NotReady(RuntimeError):
    """A service did not become ready in time."""


def netns_argv(argv: Sequence[str]) -> list[str]:
    return ["ip", "netns", "exec", config.NETNS, *argv]


def log_path(name: str) -> Path:
    return config.STATE_DIR / "logs" / f"{name}.log"


def _pidfile(name: str) -> Path:
    return config.STATE_DIR / f"{name}.pid"


def netns_inode() -> int | None:
    """Inode of the netns now called ``config.NETNS`` (None if it does not exist)."""
    try:
        return os.stat(f"/run/netns/{config.NETNS}").st_ino
    except OSError:
        return None


def _netns_of(value: int) -> int | None:
    try:
        return os.stat(f"/proc/{value}/ns/net").st_ino
    except OSError:
        return None


def pid(name: str) -> int | None:
    """Pid of the running ``name``, or None.

    A process left in an older incarnation of the netns (the lab was taken
    down and up again) serves nobody: it is stopped and reported as not running.
    """
    value = _read_pid(name)
    if value is None:
        return None
    if _netns_of(value) != netns_inode():
        _kill_session(value, timeout=10)
        _pidfile(name).unlink(missing_ok=True)
        return None
    return value


def _read_pid(name: str) -> int | None:
    try:
        value = int(_pidfile(name).read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        os.kill(value, 0)
    except ProcessLookupError:
        return None
    # A zombie child of ours is dead too.
    try:
        state = Path(f"/proc/{value}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None
    return None if state == "Z" else value


def start(name: str, argv: Sequence[str], env: Mapping[str, str] | None = None,
          cwd: Path | None = None) -> int:
    """Start ``argv`` in the netns unless ``name`` already runs; return its pid."""
    running = pid(name)
    if running:
        return running
    log = log_path(name)
    log.parent.mkdir(parents=True, exist_ok=True)
    full_env = dict(os.environ)
    full_env.update(env or {})
    with log.open("ab") as out:
        out.write(f"\n=== {time.strftime('%F %T')} start {' '.join(argv)}\n".encode())
        out.flush()
        proc = subprocess.Popen(netns_argv(argv), stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, env=full_env, cwd=cwd,
                                start_new_session=True)
    _pidfile(name).write_text(f"{proc.pid}\n")
    return proc.pid


def stop(name: str, timeout: float = 20.0) -> bool:
    """Stop ``name`` (SIGTERM to its session, then SIGKILL). True if it was running."""
    value = _read_pid(name)
    _pidfile(name).unlink(missing_ok=True)
    if value is None:
        return False
    _kill_session(value, timeout)
    return True


def _kill_session(value: int, timeout: float) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(value, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                waited, _ = os.waitpid(value, os.WNOHANG)
            except ChildProcessError:
                waited = 0
            if waited == value or not Path(f"/proc/{value}").exists():
                break
            time.sleep(0.2)
        else:
            continue
        break


def run(argv: Sequence[str], *, env: Mapping[str, str] | None = None, timeout: float = 120.0,
        check: bool = True, input: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run a short command inside the netns and return its completed process."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    proc = subprocess.run(netns_argv(argv), env=full_env, capture_output=True, text=True,
                          timeout=timeout, input=input, check=False)
    if check and proc.returncode:
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}:\n{proc.stderr}"
                           f"{proc.stdout}")
    return proc


def port_open(port: int, host: str | None = None) -> bool:
    probe = f"exec 3<>/dev/tcp/{host or config.HOST_IP}/{port}"
    return run(["bash", "-c", probe], check=False, timeout=10).returncode == 0


def wait_port(name: str, port: int, timeout: float = 120.0) -> float:
    """Wait until ``port`` accepts connections; fail early if ``name`` died."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if port_open(port):
            return time.monotonic() - t0
        if pid(name) is None:
            raise NotReady(f"{name} exited before listening on {port}; see {log_path(name)}")
        time.sleep(1.0)
    raise NotReady(f"{name} not listening on {port} after {timeout:.0f}s; see {log_path(name)}")
