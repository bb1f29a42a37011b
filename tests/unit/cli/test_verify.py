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

import json

from cinder_ocfs2 import verify
from cinder_ocfs2.cli import main

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
