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
"""Tests for cinder-ocfs2 disk add: refuse data, format, adopt, mount, fstab, peers."""

from __future__ import annotations

import pytest

from cinder_ocfs2 import cluster, mountinfo
from cinder_ocfs2.cli import common, disk, main

from .conftest import recorded

OPTS = ("rw,relatime,_netdev,heartbeat=local,nointr,data=ordered,errors=remount-ro,"
        "atime_quantum=60,coherency=full,user_xattr,acl")
NEW_UUID = "52b8287d-7863-4c96-8c16-431898cf09ad"
EMPTY = '{\n   "signatures": [\n\n   ]\n}\n'
BLKID = recorded("cli/host-blkid-p-export.ocfs2.txt")


@pytest.fixture
def env(tmp_path, fake_exec, monkeypatch):
    state = cluster.ClusterState(
        registered=True, name="labcluster", heartbeat_mode="local", local_node="node1",
        nodes=(cluster.Node("node1", 0, "10.77.0.11", local=True),
               cluster.Node("node2", 1, "10.77.0.12")))
    monkeypatch.setattr(cluster, "read_state", lambda *a, **kw: state)
    monkeypatch.setattr(disk, "resolve", lambda device: device)
    monkeypatch.setattr(disk, "device_number", lambda device: (252, 32))
    monkeypatch.setattr(mountinfo, "read", lambda *a: [])
    fstab = tmp_path / "fstab"
    fstab.write_text("# static\n/dev/vda1 / ext4 defaults 0 1\n")
    fake_exec.on(["wipefs"], EMPTY)
    fake_exec.on(["blkid", "-p"], BLKID)
    base = tmp_path / "ocfs2"
    return {"fstab": fstab, "base": base,
            "args": ["--base", str(base), "--fstab", str(fstab)]}


def test_formats_empty_disk_mounts_and_writes_fstab(env, fake_exec, capsys):
    rc = main.main(["disk", "add", "/dev/vdc", "--label", "data1", "--yes", *env["args"]])
    assert rc == 0, capsys.readouterr().err
    mp = str(env["base"] / "data1")
    assert fake_exec.calls == [
        ["wipefs", "--no-act", "--json", "/dev/vdc"],
        ["mkfs.ocfs2", "-q", "-L", "data1", "-N", "4", "-b", "4K", "--cluster-stack=o2cb",
         "--cluster-name=labcluster", "--fs-features=refcount,xattr", "/dev/vdc"],
        ["mount", "-t", "ocfs2", "-o", OPTS, "/dev/vdc", mp],
        ["blkid", "-p", "-o", "export", "/dev/vdc"],
    ]
    assert env["fstab"].read_text().endswith(f"UUID={NEW_UUID}\t{mp}\tocfs2\t{OPTS}\t0 0\n")
    assert (env["base"] / "data1").is_dir()
    assert f"data1 {NEW_UUID} {mp}" in capsys.readouterr().out


def test_format_hands_the_new_root_to_the_owner_when_that_user_exists(env, fake_exec):
    """--owner (default cinder, absent on this host): root exists everywhere."""
    assert main.main(["disk", "add", "/dev/vdc", "--label", "data1", "--owner", "root",
                      "--yes", *env["args"]]) == 0
    mp = str(env["base"] / "data1")
    assert fake_exec.calls[2:4] == [["mount", "-t", "ocfs2", "-o", OPTS, "/dev/vdc", mp],
                                    ["chown", "root:", mp]]
    fake_exec.calls.clear()
    assert main.main(["disk", "add", "/dev/vdc", "--label", "data2", "--owner", "nobody-x",
                      "--yes", *env["args"]]) == 0
    assert not fake_exec.ran("chown")


def test_refuses_disk_with_data(env, fake_exec, capsys):
    fake_exec.on(["wipefs"], recorded("cli/host-wipefs-json.ext4.txt"))
    rc = main.main(["disk", "add", "/dev/vdc", "--label", "data1", "--yes", *env["args"]])
    assert rc == 5
    assert "holds data (ext4 at 0x438); refusing to format it: pass --force" in \
        capsys.readouterr().err
    assert not fake_exec.ran("mkfs.ocfs2") and not fake_exec.ran("mount")


def test_force_formats_disk_with_data(env, fake_exec):
    fake_exec.on(["wipefs"], recorded("cli/host-wipefs-json.ext4.txt"))
    assert main.main(["disk", "add", "/dev/vdc", "--label", "d", "--slots", "6", "--force",
                      "--yes", *env["args"]]) == 0
    (mkfs,) = fake_exec.ran("mkfs.ocfs2")
    assert mkfs[-2:] == ["-F", "/dev/vdc"] and mkfs[mkfs.index("-N") + 1] == "6"


def test_adopts_ocfs2_disk_of_this_cluster(env, fake_exec):
    fake_exec.on(["wipefs"], recorded("cli/host-wipefs-json.ocfs2.txt"))
    fake_exec.on(["mounted.ocfs2", "-d"], recorded("cli/host-mounted-d.txt").replace(
        "d.img  ", "/dev/vdc"))
    fake_exec.on(["mounted.ocfs2", "-f"], recorded("cli/host-mounted-f.txt").replace(
        "d.img  ", "/dev/vdc"))
    assert main.main(["disk", "add", "/dev/vdc", "--yes", *env["args"]]) == 0
    assert not fake_exec.ran("mkfs.ocfs2")
    assert fake_exec.ran("mount") == [["mount", "-t", "ocfs2", "-o", OPTS, "/dev/vdc",
                                       str(env["base"] / "t2")]]
    assert f"UUID={NEW_UUID}" in env["fstab"].read_text()
    # idempotent: a second run adds no second fstab line
    assert main.main(["disk", "add", "/dev/vdc", "--yes", *env["args"]]) == 0
    assert env["fstab"].read_text().count(NEW_UUID) == 1


def test_refuses_ocfs2_of_another_cluster(env, fake_exec, capsys):
    fake_exec.on(["wipefs"], recorded("cli/host-wipefs-json.ocfs2.txt"))
    fake_exec.on(["mounted.ocfs2", "-d"], "Device    Stack  Cluster  F  UUID  Label\n"
                 "/dev/vdc  o2cb   other       52B8287D78634C968C16431898CF09AD  t2\n")
    assert main.main(["disk", "add", "/dev/vdc", "--yes", *env["args"]]) == 5
    assert "tunefs.ocfs2 --update-cluster-stack /dev/vdc" in capsys.readouterr().err


def test_format_needs_label(env, fake_exec, capsys):
    assert main.main(["disk", "add", "/dev/vdc", "--yes", *env["args"]]) == 5
    assert "formatting needs --label" in capsys.readouterr().err


def test_dry_run_only_probes(env, fake_exec, capsys):
    assert main.main(["disk", "add", "/dev/vdc", "--label", "x", "--dry-run",
                      *env["args"]]) == 0
    assert [c[0] for c in fake_exec.calls] == ["wipefs"]
    out = capsys.readouterr().out
    assert "plan: format /dev/vdc as 'x'" in out and "mkfs.ocfs2 -q -L x" in out
    assert "# static" in env["fstab"].read_text() and "ocfs2" not in env["fstab"].read_text()


def test_peers_adopt_by_uuid(env, fake_exec):
    assert main.main(["disk", "add", "/dev/vdc", "--label", "data1", "--yes", *env["args"],
                      "--peer", "node2=ssh node2"]) == 0
    assert fake_exec.calls[-1] == ["ssh", "node2", "cinder-ocfs2", "disk", "add",
                                   f"UUID={NEW_UUID}", "--base", str(env["base"]), "--yes"]


def test_cluster_offline_refused(env, monkeypatch, capsys):
    monkeypatch.setattr(cluster, "read_state", lambda *a, **kw: cluster.ClusterState(
        registered=False, problem="o2cb cluster is not registered: run `o2cb register-cluster "
        "labcluster`"))
    assert main.main(["disk", "add", "/dev/vdc", "--yes"]) == 5
    assert "register-cluster labcluster" in capsys.readouterr().err


def test_resolve_uuid(fake_exec):
    fake_exec.on(["blkid", "-o", "device"], "/dev/vdc\n")
    assert disk.resolve(f"UUID={NEW_UUID}") == "/dev/vdc"
    assert fake_exec.calls == [["blkid", "-o", "device", "-t", f"UUID={NEW_UUID}"]]
    fake_exec.on(["blkid", "-o", "device"], "", rc=2)
    with pytest.raises(common.CliError, match="no device with UUID="):
        disk.resolve(f"UUID={NEW_UUID}")


def test_resolve_refuses_non_block(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(common.Refused, match="not a block device"):
        disk.resolve(str(f))


def test_merge_fstab():
    text = "/dev/vda1 / ext4 defaults 0 1"
    merged = disk.merge_fstab(text, NEW_UUID, "/m/x", "o")
    assert merged == text + f"\nUUID={NEW_UUID}\t/m/x\tocfs2\to\t0 0\n"
    assert disk.merge_fstab(merged, NEW_UUID, "/m/x", "o") is None
    with pytest.raises(common.Refused, match="already mounts UUID="):
        disk.merge_fstab(merged, "1" * 32, "/m/x", "o")


def test_parse_wipefs_recorded():
    (sig,) = disk.parse_wipefs_json(recorded("cli/host-wipefs-json.ocfs2.txt"))
    assert sig["type"] == "ocfs2" and sig["uuid"] == NEW_UUID
    assert disk.parse_wipefs_json(EMPTY) == [] and disk.parse_wipefs_json("") == []
