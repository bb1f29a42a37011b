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
"""Hostile and malformed input through the API: each gets a 4xx or a clean error state.

Manage references that escape the pool or name what is not a free raw file,
absurd sizes, a bogus ``provisioning:type``, and images whose declared format
lies (one of them a qcow2 whose backing file is another tenant's volume).
After every attempt the files in the pools are exactly as before (names,
sizes, allocation) and the victim volume's data is unchanged.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from e2e import clients, config, nodes
from e2e.api import (
    cinder,
    ensure_type,
    force_delete,
    orphans,
    osc,
    osc_json,
    pool_files,
    sha_head,
    state,
    volume_file,
    wait,
    wait_gone,
    write_pattern,
)
from lab.lab import Lab

pytestmark = [pytest.mark.lab]

POOL = config.PRIMARY_LABEL


def _host() -> str:
    backend = "node1" if config.HA_MODE == "cluster" else config.CINDER_CLUSTER
    return f"{backend}@ocfs2#{POOL}"


def _outcome(ident: str, timeout: float = 900) -> str:
    """The state volume ``ident`` settles in: an error state, or available."""
    deadline = time.monotonic() + timeout
    while True:
        status = str(state("volume", ident))
        if status.startswith("error") or status == "available":
            return status
        assert time.monotonic() < deadline, f"volume {ident} still {status}"
        time.sleep(1)


def _drop(ident: str) -> None:
    force_delete({"ID": ident, "Status": ""})
    wait_gone("volume", ident, timeout=600)


def _refused(argv: list[str]) -> tuple[bool, str]:
    """Run a CLI call that must fail at the API: (failed with a 4xx-style error, stderr)."""
    proc = clients.cli(argv, check=False)
    return proc.returncode != 0, proc.stderr.strip()


def test_hostile_manage_refs_sizes_types_and_images(deployment: Lab, tmp_path: Path,
                                                    report) -> None:
    """Hostile and malformed input through the API."""
    node1, node2 = deployment.node("node1"), deployment.node("node2")
    pool_dir = nodes.pool_dir(POOL)
    pinned = ensure_type(f"fault-{POOL}", volume_backend_name="ocfs2", pool_name=POOL)
    victim = wait("volume", osc_json("volume", "create", "fault-victim", "--size", "1",
                                     "--type", pinned)["id"], "available")
    victim_path = volume_file(victim)
    victim_sha = write_pattern(node1, victim_path, "fault-victim", mib=4)
    # Bait files a manage reference could try to reach.
    node1.sh(f"truncate -s 1G {nodes.pool_dir(config.SECOND_LABEL)}/fault-other-pool.raw; "
             f"ln -sf /etc/shadow {pool_dir}/fault-link; "
             f"rm -f {pool_dir}/fault-dev; mknod {pool_dir}/fault-dev c 1 5; "
             f"truncate -s 1G {pool_dir}/fault-hardlinked.raw; "
             f"ln -f {pool_dir}/fault-hardlinked.raw {pool_dir}/fault-hardlink-2.raw")
    before = pool_files(node1)
    outcomes: dict[str, str] = {}

    refs = {
        "dotdot": f"../{config.SECOND_LABEL}/fault-other-pool.raw",
        "absolute outside": "/etc/passwd",
        "symlink": "fault-link",
        "device": "fault-dev",
        "directory": "lost+found",
        "hard link": "fault-hardlinked.raw",
        "another volume's file": victim_path.rsplit("/", 1)[1],
        "absolute into another volume": victim_path,
    }
    for what, ref in refs.items():
        report.in_flight += 1
        failed, err = _refused(["cinder", "manage", "--name", f"fault-manage-{len(outcomes)}",
                                "--volume-type", "ocfs", _host(), ref])
        if failed:
            outcomes[what] = f"refused: {err[:80]}"
            continue
        ident = next(v["ID"] for v in osc_json("volume", "list", "--all-projects")
                     if v["Name"] == f"fault-manage-{len(outcomes)}")
        outcomes[what] = _outcome(ident)
        _drop(ident)
    for what, got in outcomes.items():
        assert got.startswith(("error", "refused")), f"manage of {what}: {got}"

    # Absurd sizes: the API refuses 0 and negatives; a size no pool can hold ends in error.
    for size in ("0", "-1"):
        report.in_flight += 1
        failed, err = _refused(["openstack", "volume", "create", "fault-size", f"--size={size}"])
        assert failed, f"--size={size} was accepted"
        outcomes[f"size {size}"] = f"refused: {err[:80]}"
    report.in_flight += 1
    huge = osc_json("volume", "create", "fault-huge", "--size", "900", "--type", "ocfs")
    outcomes["size 900 GiB"] = _outcome(huge["id"])
    _drop(huge["id"])
    assert outcomes["size 900 GiB"] == "error", outcomes
    report.in_flight += 1
    cinder("extend", victim["id"], "900")
    shown = wait("volume", victim["id"], "available", timeout=300)
    assert shown["size"] == 1, f"extend to 900 GiB changed the size: {shown}"
    outcomes["extend to 900 GiB"] = "available, size unchanged"

    # A bogus provisioning:type is refused by the driver, not taken for thin.
    ensure_type("fault-bogus", volume_backend_name="ocfs2", **{"provisioning:type": "thik"})
    report.in_flight += 1
    bogus = osc_json("volume", "create", "fault-bogus-vol", "--size", "1", "--type",
                     "fault-bogus")
    outcomes["provisioning:type=thik"] = _outcome(bogus["id"])
    _drop(bogus["id"])
    assert outcomes["provisioning:type=thik"] == "error", outcomes

    # Images whose declared format lies; one reaches for the victim's file as backing.
    evil = tmp_path / "evil.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-u", "-F", "raw",
                    "-b", victim_path, str(evil), "1G"], check=True)
    plain = tmp_path / "plain.raw"
    plain.write_bytes(b"\xde\xad" * (512 << 10))
    for what, path, fmt in (("qcow2 with a backing file, declared raw", evil, "raw"),
                            ("qcow2 with a backing file, declared qcow2", evil, "qcow2"),
                            ("raw bytes declared qcow2", plain, "qcow2")):
        report.in_flight += 1
        outcomes[what] = _image_outcome(node2, path, fmt, victim_sha)
        assert outcomes[what].startswith(("error", "refused")), f"{what}: {outcomes[what]}"

    after = pool_files(node1)
    changed = {p: (before.get(p), after.get(p)) for p in set(before) | set(after)
               if before.get(p) != after.get(p)}
    assert not changed, f"hostile input changed the pools: {changed}"
    if sha_head(node2, victim_path, mib=4) != victim_sha:
        report.data_lost += 1
    node1.sh(f"rm -f {nodes.pool_dir(config.SECOND_LABEL)}/fault-other-pool.raw "
             f"{pool_dir}/fault-link {pool_dir}/fault-dev {pool_dir}/fault-hardlinked.raw "
             f"{pool_dir}/fault-hardlink-2.raw")
    _drop(victim["id"])
    report.orphans = len(orphans(node1))
    print("\n".join(f"  {k}: {v}" for k, v in outcomes.items()))
    assert report.data_lost == 0 and report.orphans == 0, orphans(node1)


def _image_outcome(node, path: Path, fmt: str, victim_sha: str) -> str:
    """Upload ``path`` as ``fmt`` and make a volume of it; how it ended."""
    name = f"fault-lying-{fmt}-{path.stem}"
    failed, err = _refused(["openstack", "image", "create", name, "--disk-format", fmt,
                            "--container-format", "bare", "--file", str(path)])
    if failed:
        return f"refused by glance: {err[:80]}"
    image = osc_json("image", "show", name)
    try:
        if image.get("status") != "active":
            return f"refused by glance: image {image.get('status')}"
        vol: dict[str, Any] = osc_json("volume", "create", name, "--size", "1", "--image",
                                       image["id"], "--type", "ocfs")
        status = _outcome(vol["id"])
        if status == "available":
            # Accepted: at the very least it must not expose the backing file's data.
            leaked = sha_head(node, volume_file(osc_json("volume", "show", vol["id"])),
                              mib=4) == victim_sha
            status = "available, LEAKED the victim's data" if leaked else "available"
        _drop(vol["id"])
        return status
    finally:
        osc("image", "delete", image["id"])
