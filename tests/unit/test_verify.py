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
"""Tests for cinder_ocfs2.verify: builtin verifier, fio argv and parsers."""

from __future__ import annotations

import os
import pathlib
import stat

import pytest

from cinder_ocfs2 import executor, verify

RECORDED = pathlib.Path(__file__).resolve().parent.parent / "fixtures" / "recorded" / "cli"


def rec(name: str) -> str:
    return (RECORDED / name).read_text()


@pytest.mark.parametrize("text, value", [("64M", 64 << 20), ("1G", 1 << 30), ("4096", 4096),
                                         ("8MiB", 8 << 20), ("2k", 2048)])
def test_parse_size(text, value):
    assert verify.parse_size(text) == value


def test_parse_size_rejects():
    with pytest.raises(ValueError, match="not a size"):
        verify.parse_size("lots")


class TestBuiltin:
    def test_block_roundtrip_and_reasons(self):
        block = verify.make_block(8192, 42)
        assert len(block) == 4096
        assert verify.check_block(block, 8192, 42) is None
        assert verify.check_block(block, 8192, None) is None
        assert "misplaced" in verify.check_block(block, 4096, 42)
        assert "stale" in verify.check_block(block, 8192, 43)
        torn = block[:100] + b"\0" + block[101:]
        assert "crc32" in verify.check_block(torn, 8192, 42)
        assert "bad magic" in verify.check_block(b"\0" * 4096, 8192, 42)

    @pytest.mark.parametrize("direct", [True, False])
    def test_write_then_check(self, tmp_path, direct):
        path = str(tmp_path / "v.dat")
        progress = []
        seed, w = verify.builtin_write(path, 3 << 20, seed=7, direct=direct,
                                       progress=lambda d, t: progress.append(d))
        assert seed == 7 and w.written_bytes == 3 << 20 and w.ok
        assert progress[-1] == 3 << 20
        assert os.listdir(tmp_path) == ["v.dat"]  # the temp name was renamed
        r = verify.builtin_check(path)
        assert r.ok and r.read_bytes == 3 << 20 and r.mismatches == 0

    def test_detects_corruption_with_offsets(self, tmp_path):
        path = tmp_path / "v.dat"
        verify.builtin_write(str(path), 1 << 20, seed=9)
        with open(path, "r+b") as f:
            f.seek(4096 * 3 + 77)
            f.write(b"X")
            f.seek(4096 * 10)
            f.write(verify.make_block(0, 9))  # a block copied to the wrong place
        r = verify.builtin_check(str(path))
        assert r.mismatches == 2
        assert [b["offset"] for b in r.bad_blocks] == [4096 * 3, 4096 * 10]
        assert "crc32" in r.bad_blocks[0]["reason"]
        assert "misplaced" in r.bad_blocks[1]["reason"]

    def test_detects_truncation_and_other_run(self, tmp_path):
        path = tmp_path / "v.dat"
        verify.builtin_write(str(path), 1 << 20, seed=9)
        os.truncate(path, 512 << 10)
        r = verify.builtin_check(str(path), size=1 << 20)
        assert r.mismatches == 128
        assert r.bad_blocks[0] == {"offset": 512 << 10, "reason": "missing (file too short)"}
        verify.builtin_write(str(path), 1 << 20, seed=10)
        assert verify.builtin_check(str(path), seed=9).mismatches == 256

    def test_write_refuses_a_non_regular_file(self, tmp_path, monkeypatch):
        # the temp file would be renamed over the device node instead of writing the device
        real = os.stat
        dev = str(tmp_path / "fake-lun")
        blk = os.stat_result((stat.S_IFBLK | 0o660, 0, 0, 1, 0, 6, 0, 0, 0, 0))
        monkeypatch.setattr(os, "stat",
                            lambda p, *a, **kw: blk if os.fspath(p) == dev else real(p, *a, **kw))
        with pytest.raises(verify.VerifyError, match="use the fio engine for a block device"):
            verify.builtin_write(dev, 1 << 20)
        assert os.listdir(tmp_path) == []  # no temp file, nothing renamed into place

    def test_size_must_be_block_multiple(self, tmp_path):
        with pytest.raises(verify.VerifyError, match="multiple"):
            verify.builtin_write(str(tmp_path / "x"), 1000)


class TestFio:
    def test_argv(self):
        assert verify.fio_argv("/mnt/f", 1 << 20) == [
            "fio", "--name=cinder-ocfs2-verify", "--filename=/mnt/f", "--size=1048576",
            "--bs=4096", "--ioengine=libaio", "--iodepth=32", "--direct=1", "--rw=randwrite",
            "--randrepeat=1", "--verify=crc32c", "--continue_on_error=verify",
            "--verify_state_save=0", "--output-format=json", "--do_verify=1"]
        assert verify.fio_argv("/mnt/f", 1 << 20, check=True)[-1] == "--verify_only"

    def test_parse_recorded_write(self):
        (job,) = verify.parse_fio_json(rec("host-fio-3.33-write-verify.json"))
        assert job.error == 0 and job.write_bytes == 4 << 20 and job.read_bytes == 4 << 20
        assert job.write_bw_bytes > 0

    def test_parse_recorded_corrupt_with_leading_error_line(self):
        text = rec("host-fio-3.33-verify-only-corrupt.json")
        assert text.startswith("fio: pid=")
        (job,) = verify.parse_fio_json(text)
        assert job.error == 84

    def test_parse_errors_recorded(self):
        bad = verify.parse_fio_errors(rec("host-fio-3.33-verify-only-2corrupt-continue.stderr"))
        assert bad == [{"offset": 409600, "reason": "bad magic header 6b57, wanted acca"},
                       {"offset": 819200, "reason": "bad magic header 832e, wanted acca"}]

    def test_no_json(self):
        with pytest.raises(verify.VerifyError, match="no JSON"):
            verify.parse_fio_json("fio: engine libaio not loadable\n")

    def test_run_reports_mismatches(self, monkeypatch):
        calls = []

        def runner(argv, timeout, input):
            calls.append(list(argv))
            return executor.Result(tuple(argv), 0,
                                   rec("host-fio-3.33-verify-only-2corrupt-continue.json"),
                                   rec("host-fio-3.33-verify-only-2corrupt-continue.stderr"))

        monkeypatch.setattr(executor, "runner", runner)
        r = verify.fio_run("/mnt/f", 4 << 20, check=True)
        assert calls == [verify.fio_argv("/mnt/f", 4 << 20, check=True)]
        assert r.mismatches == 2 and not r.ok and r.mode == "check"
        assert [b["offset"] for b in r.bad_blocks] == [409600, 819200]

    def test_run_ok(self, monkeypatch):
        monkeypatch.setattr(executor, "runner", lambda argv, t, i: executor.Result(
            tuple(argv), 0, rec("host-fio-3.33-verify-only-ok.json"), ""))
        r = verify.fio_run("/mnt/f", 4 << 20, check=True)
        assert r.ok and r.read_bytes == 4 << 20 and r.read_mib_s > 0

    def test_run_failure_without_verify_error(self, monkeypatch):
        monkeypatch.setattr(executor, "runner", lambda argv, t, i: executor.Result(
            tuple(argv), 1, rec("host-fio-3.33-verify-only-ok.json"), "fio: no space"))
        with pytest.raises(verify.VerifyError, match="no space"):
            verify.fio_run("/mnt/f", 4 << 20)
