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
"""Nova servers running the tiny guest, seen through the real ``openstack`` CLI.

The guest reports on its serial console (e2e/guest_image.py's protocol);
``openstack console log show`` is how the tests read it. After a live
migration the console starts again on the new host (the earlier lines are
gone), so a wait scans whatever the console holds now, and a test that needs
an event from after a migration matches on its content (a sequence number),
not on its position.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from e2e import clients, guest_image
from e2e.api import osc_json
from lab.lab import Node

Event = guest_image.Event


def console(server: str) -> list[Event]:
    """The guest's events on the console of ``server`` (by name or id), in order."""
    text = clients.cli(["openstack", "console", "log", "show", server], check=False).stdout
    return guest_image.parse_console(text)


def last_line(server: str) -> int:
    """The console line of ``server``'s last event (0: none): pass it to
    :func:`wait_event` as ``after`` to wait only for what comes next."""
    events = console(server)
    return events[-1].line if events else 0


def wait_event(server: str, match: Callable[[Event], bool], timeout: float = 600,
               what: str = "", after: int = 0) -> Event:
    """The first event on ``server``'s console for which ``match`` is true, among
    those past console line ``after``; a write or log error there ends the wait.

    Raises AssertionError with the console's events when none came in time.
    """
    deadline = time.monotonic() + timeout
    events: list[Event] = []
    while time.monotonic() < deadline:
        events = [e for e in console(server) if e.line > after]
        for event in events:
            if match(event):
                return event
        if any(e.kind in ("write-error", "log-error") for e in events):
            break
        time.sleep(5)
    seen = "\n".join(f"  {e.kind} {e.fields}" for e in events[-12:]) or "  (nothing)"
    raise AssertionError(f"{server}: no {what or 'matching'} event within {timeout:.0f}s; "
                         f"console:\n{seen}")


def serial_of(volume_id: str) -> str:
    """What the guest sees as a Cinder volume's serial: the first 20 characters of its id."""
    return volume_id[:20]


def show(server: str) -> dict[str, Any]:
    return osc_json("server", "show", server)


def wait_server(server: str, want: str = "ACTIVE", timeout: float = 600) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    info: dict[str, Any] = {}
    while time.monotonic() < deadline:
        info = show(server)
        if info["status"] == want:
            return info
        if info["status"] == "ERROR":
            raise AssertionError(f"{server} went to ERROR: {info.get('fault')}")
        time.sleep(5)
    raise AssertionError(f"{server} still {info.get('status')} after {timeout:.0f}s")


def attached_ids(server_info: dict[str, Any]) -> set[str]:
    """Volume ids ``openstack server show`` lists as attached (any client version)."""
    attached = server_info.get("volumes_attached") or []
    if isinstance(attached, str):  # older clients: "id='...'\nid='...'"
        return {part.split("'")[1] for part in attached.split() if "'" in part}
    return {str(a["id"]) for a in attached}


def write_request(node: Node, path: str, role: str, mib: int | None = None) -> None:
    """Block 0 of a volume file: asks the next guest that sees it for a data disk
    of ``mib`` MiB or a log (:func:`e2e.guest_image.request_header`)."""
    tmp = "/tmp/tinyguest-request"
    node.agent.write_file(tmp, guest_image.request_header(role, mib))
    node.sh(f"dd if={tmp} of={path} bs=4096 count=1 conv=notrunc,fsync status=none "
            f"oflag=direct && rm -f {tmp}", timeout=120)


def _head(node: Node, path: str, nbytes: int) -> Path:
    """The first ``nbytes`` of a volume file on ``node``, copied to a host temp file."""
    blocks = -(-nbytes // 4096)
    tmp = f"/tmp/tinyguest-head-{Path(path).name}"
    node.sh(f"dd if={path} of={tmp} bs=4096 count={blocks} iflag=direct status=none",
            timeout=300)
    data = node.agent.read_file(tmp, timeout=300)
    node.sh(f"rm -f {tmp}")
    out = Path(tempfile.mkstemp(prefix="tinyguest-")[1])
    out.write_bytes(data)
    return out


def check_log(node: Node, path: str, at_least: int) -> guest_image.LogCheck:
    """The log on a volume file, read on ``node`` (its first ``at_least`` + 64 records)."""
    head = _head(node, path, guest_image.DATA_OFFSET + (at_least + 64) * guest_image.RECORD)
    try:
        return guest_image.check_log(head)
    finally:
        head.unlink()


def check_data(node: Node, path: str, mib: int) -> bool:
    """Does the data disk on a volume file hold the pattern its header describes?"""
    head = _head(node, path, guest_image.DATA_OFFSET + mib * (1 << 20))
    try:
        return guest_image.check_data(head)
    finally:
        head.unlink()


def owner(node: Node, path: str) -> str:
    """``uid:gid mode`` of a volume file, as ``node`` sees it."""
    return node.sh(f"stat -c '%u:%g %a' {path}").strip()
