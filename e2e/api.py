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
"""The CLI steps the scenario and the fault suite share.

Thin wrappers over ``openstack``/``cinder`` (run in the lab's netns through
:mod:`e2e.clients`), polling for a status, and reading volume files through
a lab node (checksums, sizes), so that tests check the data as well as what
the API reports.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from e2e import clients, config, nodes, status
from lab.lab import Node

MiB = 1 << 20
GiB = 1 << 30
PATTERN_MIB = 8


def osc(*args: str, timeout: float = 300) -> str:
    return clients.cli(["openstack", *args], timeout=timeout).stdout


def osc_json(*args: str, timeout: float = 300) -> Any:
    return clients.cli_json(["openstack", *args], timeout=timeout)


def cinder(*args: str, timeout: float = 300) -> str:
    return clients.cli(["cinder", *args], timeout=timeout).stdout


def table(text: str) -> dict[str, str]:
    """A cinderclient ``Property | Value`` table as a dict (continuation rows joined)."""
    out: dict[str, str] = {}
    key = ""
    for line in text.splitlines():
        m = re.match(r"^\|\s(.*?)\s*\|\s(.*?)\s*\|$", line)
        if not m or m.group(1) in ("Property",) and m.group(2) in ("Value",):
            continue
        k, v = m.group(1).strip(), m.group(2).strip()
        if k:
            key = k
            out[key] = v
        elif key:
            out[key] += v
    return out


def state(kind: str, ident: str, field: str = "status") -> str | None:
    """``field`` of ``kind`` ``ident`` by a cheap in-process read (:mod:`e2e.status`),
    or by ``openstack ... show`` for what it does not cover. None: the resource is gone;
    "": no answer this time (an API busy or restarting), ask again."""
    if kind in status.KINDS and field == "status":
        try:
            return str(status.read(kind, ident).get(field))
        except status.Gone:
            return None
        except status.NoAnswer:
            return ""
    proc = clients.cli(["openstack", *kind.split(), "show", ident, "-f", "json"], check=False)
    if proc.returncode:
        assert "No " in proc.stderr or "not be found" in proc.stderr \
            or "404" in proc.stderr, proc.stderr
        return None
    return str(json.loads(proc.stdout or "{}").get(field))


def wait(kind: str, ident: str, want: str | tuple[str, ...], timeout: float = 600,
         field: str = "status") -> dict[str, Any]:
    """Poll until ``field`` of ``kind`` ``ident`` is in ``want``; fail on an error state.

    Returns what ``openstack <kind> show`` shows then (the poll itself is cheap).
    """
    wanted = (want,) if isinstance(want, str) else want
    deadline = time.monotonic() + timeout
    value: str | None = None
    while time.monotonic() < deadline:
        value = state(kind, ident, field)
        if value in wanted:
            shown = osc_json(*kind.split(), "show", ident)
            if str(shown.get(field)) in wanted:
                return shown
        elif value is None:
            raise AssertionError(f"{kind} {ident} vanished while waiting for {wanted}")
        elif value.startswith("error") or value in ("failed", "killed"):
            shown = osc_json(*kind.split(), "show", ident)
            raise AssertionError(f"{kind} {ident}: {field} became {value}: {shown}")
        time.sleep(2)
    raise AssertionError(f"{kind} {ident}: {field} still {value!r} after "
                         f"{timeout:.0f}s (want {wanted})")


def wait_gone(kind: str, ident: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = state(kind, ident)
        if value is None:
            return
        if value.startswith("error"):
            raise AssertionError(f"{kind} {ident} went to an error state while deleting")
        time.sleep(2)
    raise AssertionError(f"{kind} {ident} still exists after {timeout:.0f}s")


def pool_of(vol: dict[str, Any]) -> str:
    return str(vol["os-vol-host-attr:host"]).rsplit("#", 1)[1]


def backend_of(vol: dict[str, Any]) -> str:
    return str(vol["os-vol-host-attr:host"]).split("@", 1)[1].split("#", 1)[0]


def volume_file(vol: dict[str, Any]) -> str:
    name_id = vol.get("os-vol-mig-status-attr:name_id") or vol["id"]
    return f"{nodes.pool_dir(pool_of(vol))}/volume-{name_id}"


def sha_head(node: Node, path: str, mib: int = PATTERN_MIB, offset_mib: int = 0) -> str:
    out = node.sh(f"dd if={path} bs=1M skip={offset_mib} count={mib} status=none "
                  f"iflag=direct | sha256sum", timeout=300)
    return out.split()[0]


def file_size(node: Node, path: str) -> int:
    return int(node.sh(f"stat -c %s {path}", timeout=60).strip())


def exists(node: Node, path: str) -> bool:
    return node.exec(["test", "-e", path], timeout=60).ok


def write_pattern(node: Node, path: str, seed: str, mib: int = PATTERN_MIB,
                  offset_mib: int = 0) -> str:
    """Write ``mib`` MiB of seeded pseudo-random data into ``path`` in place; return its sha.

    The data is made on the node: the lab agent's channel moves 8 MiB in about
    a minute under TCG, too close to its timeout.
    """
    tmp = f"/tmp/pattern-{seed}"
    gen = (f"import random, sys; "
           f"sys.stdout.buffer.write(random.Random({seed!r}).randbytes({mib} << 20))")
    out = node.sh(f"python3 -c {shlex.quote(gen)} > {tmp} && sha256sum {tmp} && "
                  f"dd if={tmp} of={path} bs=1M seek={offset_mib} conv=notrunc,fsync "
                  f"status=none && rm -f {tmp}", timeout=300)
    return out.split()[0]


def force_delete(vol: dict[str, Any]) -> None:
    """Delete a volume left by an interrupted run, detaching it in Cinder first."""
    if vol.get("Status") in ("in-use", "attaching", "detaching", "reserved"):
        cinder("reset-state", "--state", "available", "--attach-status", "detached", vol["ID"])
    clients.cli(["openstack", "volume", "delete", "--force", vol["ID"]], check=False)


def gone_within(node: Node, path: str, timeout: float) -> None:
    """Wait for ``path`` to go (Cinder deletes a migration's source asynchronously)."""
    deadline = time.monotonic() + timeout
    while exists(node, path):
        assert time.monotonic() < deadline, f"{path} still there after {timeout:.0f}s"
        time.sleep(3)


def get_pools() -> list[dict[str, str]]:
    text = cinder("get-pools", "--detail")
    return [table(chunk) for chunk in re.split(r"\n(?=\+-+\+-+\+\n\| Property)", text)
            if "Property" in chunk]


#: Where every service log was at a moment (path -> size): see :func:`log_mark`.
LogMark = dict[str, int]


def log_paths() -> list[Path]:
    """Every service log: host side, and the nodes' (on the lab share)."""
    return list((config.STATE_DIR / "logs").glob("*.log")) + list(
        (Path(nodes.host_log_dir("node1")).parent).glob("*/*.log"))


def log_mark() -> LogMark:
    """The size of every service log now: what is appended later is "since" this mark.

    Better than a time: the emulated nodes' clocks drift from the host's (by
    16 to over 100 s under load), so a host timestamp cuts node log lines wrongly.
    """
    return {str(p): p.stat().st_size for p in log_paths()}


def log_since(path: Path, since: str | LogMark) -> str:
    """The lines of log ``path`` after mark ``since`` (a :func:`log_mark`, or a UTC
    timestamp: lines stamped then or later; all when it is empty)."""
    if isinstance(since, dict):
        with open(path, "rb") as f:
            f.seek(since.get(str(path), 0))
            return f.read().decode(errors="replace")
    return "\n".join(line for line in path.read_text(errors="replace").splitlines()
                     if not since or (line[:4].isdigit() and line[:19] >= since))


def log_text(since: str | LogMark = "") -> str:
    """Every service log, host side and nodes; only what came after ``since``."""
    return "\n".join(f"=== {path}\n" + log_since(path, since) for path in log_paths())


def pool_up(label: str) -> bool:
    """The scheduler reports pool ``label`` up, with capacity."""
    return any(p["name"].endswith(f"#{label}") and p.get("backend_state") == "up"
               and float(p.get("total_capacity_gb") or 0) > 0 for p in get_pools())


def pool_files(node: Node) -> dict[str, tuple[int, int]]:
    """Every file in the OCFS2 pools (both backends): path -> (size, allocated bytes).

    Cinder's own bookkeeping directories (locks, backups, the Glance store) are
    left out; what remains is volume and snapshot files, and anything stray.
    """
    out = node.sh(
        f"find {config.MOUNT_ROOT} {nodes.backend_b_root()} -mindepth 1 "
        r"\( -name lost+found -o -name .cinder-locks -o -name .cinder-backups "
        r"-o -name .glance-images \) -prune -o ! -type d -printf '%p %s %b\n'",
        timeout=120)
    files = {}
    for line in out.splitlines():
        path, size, blocks = line.rsplit(" ", 2)
        files[path] = (int(size), int(blocks) * 512)
    return files


def cinder_files() -> set[str]:
    """The file names Cinder's volumes and snapshots own (``volume-<id>``, ``snapshot-<id>``)."""
    owned = set()
    for vol in osc_json("volume", "list", "--all-projects", "--long"):
        shown = osc_json("volume", "show", vol["ID"])
        owned.add(f"volume-{shown.get('os-vol-mig-status-attr:name_id') or shown['id']}")
    for snap in osc_json("volume", "snapshot", "list", "--all-projects"):
        owned.add(f"snapshot-{snap['ID']}")
    return owned


def orphans(node: Node) -> list[str]:
    """Files in the pools that no Cinder volume or snapshot owns."""
    owned = cinder_files()
    return sorted(p for p in pool_files(node) if p.rsplit("/", 1)[1] not in owned)


def cinder_volume_pids(node: Node) -> set[int]:
    """The pids of the cinder-volume processes on ``node`` (one per backend)."""
    out = node.exec("pgrep -f 'bin/[c]inder-volume ' || true", timeout=60)
    return {int(p) for p in out.stdout.split()}


def log_count(node: str, text: str, since: str | LogMark,
              service: str = "cinder-volume") -> int:
    """How many lines of ``node``'s ``service`` log since ``since`` contain ``text``."""
    path = Path(nodes.host_log_dir(node), f"{service}.log")
    return sum(text in line for line in log_since(path, since).splitlines())


def ensure_type(name: str, **specs: str) -> str:
    """Create volume type ``name`` with extra ``specs`` unless it exists; return the name."""
    if clients.cli(["openstack", "volume", "type", "show", name], check=False).returncode:
        props = [arg for k, v in specs.items() for arg in ("--property", f"{k}={v}")]
        osc("volume", "type", "create", name, *props)
    return name


def clean_up(prefix: str) -> None:
    """Delete every snapshot and volume named ``prefix...``, whatever state a fault left
    them in (reset to error first, as an operator would)."""
    owners = {v["ID"]: v["Name"] for v in osc_json("volume", "list", "--all-projects")
              if str(v["Name"]).startswith(prefix)}
    # Also the snapshots Cinder made of them (an interrupted revert leaves its
    # "[revert] volume ... backup snapshot").
    snaps = [s for s in osc_json("volume", "snapshot", "list", "--all-projects", "--long")
             if str(s["Name"]).startswith(prefix) or s.get("Volume") in owners
             or s.get("Volume") in owners.values()]
    for snap in snaps:
        clients.cli(["cinder", "snapshot-reset-state", "--state", "error", snap["ID"]],
                    check=False)
        clients.cli(["openstack", "volume", "snapshot", "delete", snap["ID"]], check=False)
    for snap in snaps:
        wait_gone("volume snapshot", snap["ID"], timeout=600)
    vols = [v for v in osc_json("volume", "list", "--all-projects")
            if str(v["Name"]).startswith(prefix)]
    for v in vols:
        if v["Status"] not in ("available", "error"):
            clients.cli(["cinder", "reset-state", "--state", "error", "--attach-status",
                         "detached", v["ID"]], check=False)
        try:  # a migration a fault interrupted stays "migrating": Cinder refuses the delete
            migrating = status.read("volume", v["ID"]).get("migration_status") in (
                "starting", "migrating", "completing")
        except (status.Gone, status.NoAnswer):
            migrating = False
        if migrating:
            clients.cli(["cinder", "reset-state", "--reset-migration-status", v["ID"]],
                        check=False)
        clients.cli(["openstack", "volume", "delete", "--force", v["ID"]], check=False)
    for v in vols:
        wait_gone("volume", v["ID"], timeout=600)


def compressed_image(name: str, mib: int) -> tuple[str, str]:
    """Upload ``mib`` MiB of non-zero data as a compressed qcow2 image named ``name``: a
    small upload that needs that much room in a volume. Returns (id, sha256 of the data)."""
    data = bytes(range(1, 256)) * (mib * MiB // 255)
    data += b"\x01" * (mib * MiB - len(data))
    with tempfile.TemporaryDirectory() as tmp:
        raw, qcow2 = os.path.join(tmp, "image.raw"), os.path.join(tmp, "image.qcow2")
        with open(raw, "wb") as f:
            f.write(data)
        subprocess.run(["qemu-img", "convert", "-c", "-f", "raw", "-O", "qcow2", raw, qcow2],
                       check=True)
        image = osc_json("image", "create", name, "--disk-format", "qcow2",
                         "--container-format", "bare", "--file", qcow2, timeout=900)
    wait("image", image["id"], "active", timeout=900)
    return image["id"], hashlib.sha256(data).hexdigest()
