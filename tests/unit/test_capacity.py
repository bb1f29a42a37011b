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
"""Tests for cinder_ocfs2.capacity."""

import os
import threading
import time
from unittest import mock

import pytest

from cinder_ocfs2 import capacity

GiB = capacity.GiB
VOL = "0b9f9f3c-1b7a-4c1e-9a56-7f3d2b1e4c11"
SNAP = "5d0c0bfe-6a21-4c36-9f7e-2f1b6e2a9d40"


def make_pool(path) -> int:
    """Cinder files plus look-alikes; returns the sum of the Cinder files' sizes."""
    counted = {f"volume-{VOL}": 2 * GiB, f"volume-{SNAP}": GiB // 2,
               f"snapshot-{SNAP}": 5 * GiB + 123}
    ignored = {f".tmp-volume-{VOL}-0123456789ab": 7 * GiB, f"volume-{VOL}.info": 100,
               "volume-x.tmp": 11, "volume-a": 13, "snapshot-c": 17, "other.raw": 9,
               f"volume-{VOL.upper()}": 19}
    for name, size in {**counted, **ignored}.items():
        with open(path / name, "wb") as f:
            f.truncate(size)
    (path / f"volume-{'1' * 8}-1111-1111-1111-{'1' * 12}").mkdir()
    os.symlink(path / f"volume-{VOL}", path / f"snapshot-{VOL}")
    return sum(counted.values())


def test_provisioned_counts_volume_and_snapshot_files(tmp_path):
    expected = make_pool(tmp_path)
    assert capacity.provisioned(str(tmp_path)) == (expected, 3)


def test_provisioned_closes_its_descriptor(tmp_path):
    make_pool(tmp_path)
    before = len(os.listdir("/proc/self/fd"))
    capacity.provisioned(str(tmp_path))
    with mock.patch.object(capacity.stat, "S_ISREG", side_effect=RuntimeError("boom")):
        with pytest.raises(RuntimeError):
            capacity.provisioned(str(tmp_path))
    assert len(os.listdir("/proc/self/fd")) == before
    with pytest.raises(NotADirectoryError):  # a pool path that is a file: as scandir did
        capacity.provisioned(str(tmp_path / f"volume-{VOL}"))


def test_provisioned_follows_the_templates(tmp_path):
    make_pool(tmp_path)
    (tmp_path / f"vol_{VOL}.img").write_bytes(b"x" * 1000)
    (tmp_path / f"snap_{VOL}").write_bytes(b"x" * 10)
    assert capacity.provisioned(str(tmp_path), ("vol_%s.img", "snap_%s")) == (1010, 2)
    assert capacity.provisioned(str(tmp_path), ("vol_%s.img",)) == (1000, 1)
    assert capacity.measure(str(tmp_path), "snap_%s").provisioned_bytes == 10


def test_measure_reports_statvfs_exactly(tmp_path):
    expected = make_pool(tmp_path)
    fake = os.statvfs_result((4096, 1024, 1000, 900, 700, 50, 40, 30, 0, 255))
    with mock.patch.object(capacity.os, "statvfs", return_value=fake) as statvfs:
        cap = capacity.measure(str(tmp_path))
    statvfs.assert_called_once_with(str(tmp_path))
    assert (cap.total_bytes, cap.free_bytes) == (1000 * 1024, 700 * 1024)  # f_frsize, f_bavail
    assert (cap.provisioned_bytes, cap.volume_count) == (expected, 3)


def test_measure_matches_statvfs_of_the_real_disk(tmp_path):
    expected = make_pool(tmp_path)
    cap = capacity.measure(str(tmp_path))
    st = os.statvfs(tmp_path)
    assert cap.total_bytes == st.f_blocks * st.f_frsize
    # free moves when others write to the disk between the two calls
    assert abs(cap.free_bytes - st.f_bavail * st.f_frsize) <= 64 * 1024 ** 2
    assert 0 <= cap.free_bytes <= cap.total_bytes
    assert (cap.provisioned_bytes, cap.volume_count) == (expected, 3)
    assert cap.provisioned_gb == capacity.to_gb(expected)


def test_to_gb_rounds_down():
    assert capacity.to_gb(GiB) == 1.0
    assert capacity.to_gb(GiB - 1) == 0.99
    assert capacity.to_gb(0) == 0


class _Walk:
    """A walk that returns its results in turn, each when released."""

    def __init__(self, *results):
        self.results = list(results)
        self.release = threading.Event()
        self.calls = 0

    def __call__(self):
        self.calls += 1
        self.release.wait(10)
        self.release.clear()
        result = self.results.pop(0)
        if isinstance(result, BaseException):
            raise result
        return result


def _settle(walks: capacity.Provisioned, calls: int, walk: _Walk) -> None:
    """Until the running walk has ended (``walks`` idle again)."""
    for _ in range(1000):
        if walk.calls >= calls and walks.idle(0):
            return
        time.sleep(0.005)
    raise AssertionError("the walk did not end")


def test_provisioned_fresh_when_the_walk_is_quick():
    walks = capacity.Provisioned(lambda: (10, 1), wait=5)
    (result, age) = walks.latest()
    assert result == (10, 1) and 0 <= age < 5


def test_provisioned_reports_the_last_walk_while_a_slow_one_runs():
    now = [100.0]
    walk = _Walk((10, 1), (20, 2), (30, 3))
    walks = capacity.Provisioned(walk, wait=0.01, clock=lambda: now[0])
    assert walks.latest() is None  # the first walk has not finished
    walk.release.set()
    _settle(walks, 1, walk)
    now[0] = 160.0
    assert walks.latest() == ((10, 1), 60.0)  # started the second walk, still running
    assert walks.latest() == ((10, 1), 60.0)  # and did not start a third
    assert walk.calls == 2
    walk.release.set()
    _settle(walks, 2, walk)
    assert walks.latest() == ((20, 2), 0.0)


def test_provisioned_idle_waits_for_the_running_walk():
    walk = _Walk((10, 1), (20, 2))
    walks = capacity.Provisioned(walk, wait=0.01)
    assert walks.idle(0)  # nothing started yet
    assert walks.latest() is None
    assert not walks.idle(0.01)  # the walk runs
    walk.release.set()
    assert walks.idle(5) and walk.calls == 1  # it ended; idle() starts none
    assert walks.latest()[0] == (10, 1)  # (and starts the next walk)
    walk.release.set()
    assert walks.idle(5)


def test_provisioned_raises_a_failed_walk_once():
    walk = _Walk(OSError(5, "Input/output error"), (7, 1))
    walks = capacity.Provisioned(walk, wait=0.01)
    assert walks.latest() is None
    walk.release.set()
    _settle(walks, 1, walk)
    with pytest.raises(OSError, match="Input/output"):
        walks.latest()  # and starts the next walk
    walk.release.set()
    _settle(walks, 2, walk)
    assert walks.latest()[0] == (7, 1)
    walk.release.set()
