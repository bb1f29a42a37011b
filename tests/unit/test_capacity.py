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

from cinder_ocfs2 import capacity

GiB = capacity.GiB


def test_provisioned_counts_volume_files_only(tmp_path):
    for name, size in [("volume-a", 2 * GiB), ("volume-b", GiB // 2),
                       ("snapshot-c", 5 * GiB), (".tmp-volume-d-123", 7 * GiB),
                       ("volume-a.info", 100), ("other", 9)]:
        with open(tmp_path / name, "wb") as f:
            f.truncate(size)
    (tmp_path / "volume-dir").mkdir()
    os.symlink(tmp_path / "volume-a", tmp_path / "volume-link")
    total, count = capacity.provisioned(str(tmp_path))
    assert (total, count) == (2 * GiB + GiB // 2, 2)


def test_measure_matches_statvfs(tmp_path):
    cap = capacity.measure(str(tmp_path))
    st = os.statvfs(tmp_path)
    assert cap.total_bytes == st.f_blocks * st.f_frsize
    assert cap.free_bytes <= cap.total_bytes
    assert cap.provisioned_bytes == 0 and cap.volume_count == 0


def test_to_gb_rounds_down():
    assert capacity.to_gb(GiB) == 1.0
    assert capacity.to_gb(GiB - 1) == 0.99
    assert capacity.to_gb(0) == 0
