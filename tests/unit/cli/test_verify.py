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
"""Tests for cinder-ocfs2 verify (the verb; the engines are in tests/unit/test_verify.py)."""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import shlex
import stat

import pytest

from cinder_ocfs2 import verify
from cinder_ocfs2.cli import common, main

from .conftest import recorded


def test_builtin_write_check_and_corruption(tmp_path, capsys):
    assert main.main(["verify", str(tmp_path), "--engine", "builtin", "--size", "1M"]) == 0
    out = capsys.readouterr()
    assert "builtin write" in out.out and "builtin check" in out.out and ": OK" in out.out
    assert "--> write: 100%" in out.err
    data = tmp_path / "cinder-ocfs2-verify.dat"
    with open(data, "r+b") as f:
        f.seek(4096 * 9)
        f.write(b"garbage")
    assert main.main(["verify", str(tmp_path), "--engine", "builtin", "--check",
                      "--json"]) == 4
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False
    (r,) = report["reports"]
    assert r["mismatches"] == 1 and r["bad_blocks"][0]["offset"] == 4096 * 9


def test_fio_check_on_peer(tmp_path, fake_exec, monkeypatch, capsys):
    monkeypatch.setattr(verify, "fio_available", lambda: True)
    fake_exec.on(["fio"], recorded("cli/host-fio-3.33-write-verify.json"))
    peer_report = {"ok": False, "reports": [{
        "engine": "fio", "path": "/m/f", "mode": "check", "size": 4194304,
        "block_size": 4096, "written_bytes": 0, "read_bytes": 4194304, "write_seconds": 0,
        "read_seconds": 0.01, "mismatches": 2, "direct": True, "ok": False,
        "write_mib_s": 0, "read_mib_s": 400.0,
        "bad_blocks": [{"offset": 409600, "reason": "bad magic header"}]}]}
    fake_exec.on(["ssh", "node2"], json_out=peer_report)
    target = str(tmp_path / "f")
    rc = main.main(["verify", target, "--size", "4M", "--peer", "node2=ssh node2"])
    assert rc == 4
    assert fake_exec.calls == [
        verify.fio_argv(target, 4 << 20),
        ["ssh", "node2", "cinder-ocfs2", "verify", target, "--check", "--json", "--engine",
         "fio", "--bs", "4096", "--size", str(4 << 20)],
    ]
    out = capsys.readouterr().out
    assert "OK" in out.splitlines()[0]
    assert "[node2] fio check" in out and "MISMATCH: 2 bad block(s)" in out
    assert "offset 409600: bad magic header" in out


# --- refusing to write over data -------------------------------------------------------

VOLUME = "volume-3f1c2b9e-8d4a-4e6f-9a1b-2c3d4e5f6a7b"
TENANT_DATA = b"tenant data, not a test pattern\n" * 4096


def sha256(path) -> str:
    return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()


@pytest.fixture(params=["builtin", "fio"])
def engine(request, fake_exec, monkeypatch) -> str:
    """Both engines; fio is faked (any fio call is recorded in fake_exec.calls)."""
    monkeypatch.setattr(verify, "fio_available", lambda: True)
    fake_exec.on(["fio"], recorded("cli/host-fio-3.33-write-verify.json"))
    return request.param


def blockdev_stat(monkeypatch, path: str) -> None:
    """``os.stat(path)`` says ``path`` is a block device (no real device needed)."""
    real = os.stat
    fake = os.stat_result((stat.S_IFBLK | 0o660, 0, 0, 1, 0, 6, 0, 0, 0, 0))

    def fake_stat(p, *a, **kw):
        return fake if os.fspath(p) == path else real(p, *a, **kw)

    monkeypatch.setattr(os, "stat", fake_stat)


@pytest.mark.parametrize("name, danger", [
    (VOLUME, "is a Cinder volume file (" + VOLUME + "): writing the test pattern would "
             "destroy that volume's data"),
    ("snapshot-0a1b2c3d", "is a Cinder snapshot file (snapshot-0a1b2c3d): writing the test "
                          "pattern would destroy that snapshot's data"),
    ("data.img", "already exists: writing the test pattern would overwrite its data"),
])
def test_write_refuses_existing_file(tmp_path, engine, fake_exec, capsys, name, danger):
    target = tmp_path / name
    target.write_bytes(TENANT_DATA)
    before = sha256(target)
    rc = main.main(["verify", str(target), "--engine", engine, "--size", "1M",
                    "--peer", "node2=ssh node2"])
    assert rc == common.EXIT_REFUSED
    err = capsys.readouterr().err
    assert f"--> Refused: {target} {danger}" in err
    assert "--destroy-existing-data" in err and "--check" in err
    assert sha256(target) == before
    assert os.listdir(tmp_path) == [name]  # no temp file either
    assert fake_exec.calls == []  # neither fio nor the peer ran


def test_write_refuses_block_device(tmp_path, engine, fake_exec, monkeypatch, capsys):
    lun = str(tmp_path / "fake-shared-lun")  # under tmp_path: a regression writes only there
    blockdev_stat(monkeypatch, lun)
    rc = main.main(["verify", lun, "--engine", engine, "--size", "1M"])
    assert rc == common.EXIT_REFUSED
    err = capsys.readouterr().err
    assert f"{lun} is a block device" in err and "shared LUN" in err
    assert "--destroy-existing-data" in err
    assert fake_exec.calls == [] and os.listdir(tmp_path) == []


def test_write_refuses_other_non_regular_files(tmp_path, engine, fake_exec, capsys):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    assert main.main(["verify", str(fifo), "--engine", engine, "--size", "1M"]) == 5
    assert f"{fifo} is a FIFO" in capsys.readouterr().err
    assert fake_exec.calls == []


def test_write_refuses_through_a_symlink_to_a_volume(tmp_path, engine, fake_exec, capsys):
    volume = tmp_path / VOLUME
    volume.write_bytes(TENANT_DATA)
    before = sha256(volume)
    (tmp_path / "cinder-ocfs2-verify.dat").symlink_to(volume)
    assert main.main(["verify", str(tmp_path), "--engine", engine, "--size", "1M"]) == 5
    assert "destroy that volume's data" in capsys.readouterr().err
    assert sha256(volume) == before and fake_exec.calls == []


def test_check_of_an_existing_volume_file_is_allowed(tmp_path, capsys):
    target = tmp_path / VOLUME
    target.write_bytes(TENANT_DATA)
    before = sha256(target)
    assert main.main(["verify", str(target), "--engine", "builtin", "--check"]) == 4
    assert "bad magic" in capsys.readouterr().out
    assert sha256(target) == before


def test_rewriting_the_default_file_in_a_directory_is_allowed(tmp_path):
    for _ in range(2):
        assert main.main(["verify", str(tmp_path), "--engine", "builtin", "--size", "1M"]) == 0


def test_destroy_flag_overwrites_the_volume_file(tmp_path, capsys):
    target = tmp_path / VOLUME
    target.write_bytes(TENANT_DATA)
    rc = main.main(["verify", str(target), "--engine", "builtin", "--size", "1M",
                    "--destroy-existing-data"])
    assert rc == 0
    assert "--destroy-existing-data: " in capsys.readouterr().err
    assert verify.builtin_check(str(target)).ok and target.stat().st_size == 1 << 20


def test_destroy_flag_lets_fio_write_a_block_device(tmp_path, fake_exec, monkeypatch):
    monkeypatch.setattr(verify, "fio_available", lambda: True)
    fake_exec.on(["fio"], recorded("cli/host-fio-3.33-write-verify.json"))
    lun = str(tmp_path / "fake-shared-lun")
    blockdev_stat(monkeypatch, lun)
    assert main.main(["verify", lun, "--engine", "fio", "--size", "4M",
                      "--destroy-existing-data"]) == 0
    assert fake_exec.calls == [verify.fio_argv(lun, 4 << 20)]


def test_destroy_flag_builtin_refuses_a_block_device(tmp_path, monkeypatch, capsys):
    lun = str(tmp_path / "fake-shared-lun")
    blockdev_stat(monkeypatch, lun)
    assert main.main(["verify", lun, "--engine", "builtin", "--size", "1M",
                      "--destroy-existing-data"]) == 1
    assert "use the fio engine for a block device" in capsys.readouterr().err
    assert os.listdir(tmp_path) == []


def test_help_documents_the_destroy_flag(capsys):
    with pytest.raises(SystemExit):
        main.main(["verify", "--help"])
    assert "--destroy-existing-data" in capsys.readouterr().out


# --- peers: the remote command keeps its argv ------------------------------------------

def test_peer_check_quotes_the_path_for_ssh(tmp_path, fake_exec):
    fake_exec.on(["ssh", "node2"], json_out={"ok": True, "reports": []})
    target = str(tmp_path / "a b; rm -rf x.dat")
    rc = main.main(["verify", target, "--engine", "builtin", "--size", "1M", "--seed", "5",
                    "--peer", "node2=ssh node2"])
    assert rc == 0
    (call,) = fake_exec.calls
    argv = ["cinder-ocfs2", "verify", target, "--check", "--json", "--engine", "builtin",
            "--bs", "4096", "--size", str(1 << 20), "--seed", "5"]
    assert call == ["ssh", "node2", *map(shlex.quote, argv)]
    assert shlex.split(" ".join(call[2:])) == argv  # what the remote shell parses
