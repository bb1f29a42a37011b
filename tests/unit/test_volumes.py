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
"""Tests for cinder_ocfs2.volumes."""

import errno
import os
import subprocess
import sys
import time
from unittest import mock

import pytest

from cinder_ocfs2 import exception, volumes

MiB = 1024 ** 2


def test_parse_mode():
    assert volumes.parse_mode("0660") == 0o660
    assert volumes.parse_mode("640") == 0o640
    for bad in ("0666", "0662", "1777", "0777"):
        with pytest.raises(ValueError, match="use 0660 or 0600"):
            volumes.parse_mode(bad)


@pytest.mark.parametrize("good", ["0600", "0640", "0660", 0o620, "0700"])
def test_parse_mode_accepts_owner_read_write(good):
    assert volumes.parse_mode(good) == (good if isinstance(good, int) else int(good, 8))


@pytest.mark.parametrize("bad", ["0000", "040", "0400", "0606", "0200", "0460", 0o440])
def test_parse_mode_refuses_modes_the_service_cannot_use(bad):
    with pytest.raises(ValueError, match="use 0660 or 0600"):
        volumes.parse_mode(bad)


def test_create_sparse_with_mode_despite_umask(tmp_path):
    path = str(tmp_path / "volume-1")
    old = os.umask(0o077)
    try:
        volumes.create(path, 64 * MiB, mode=0o660)
    finally:
        os.umask(old)
    st = os.stat(path)
    assert st.st_size == 64 * MiB and st.st_mode & 0o777 == 0o660
    assert st.st_blocks * 512 < MiB
    assert os.listdir(tmp_path) == ["volume-1"]


def test_create_thick_fallocates(tmp_path):
    path = str(tmp_path / "volume-1")
    volumes.create(path, 4 * MiB, thick=True)
    assert os.stat(path).st_blocks * 512 >= 4 * MiB


def test_create_idempotent_but_never_overwrites(tmp_path):
    path = str(tmp_path / "volume-1")
    volumes.create(path, MiB)
    with open(path, "r+b") as f:
        f.write(b"data")
    volumes.create(path, MiB)
    assert open(path, "rb").read(4) == b"data"
    with pytest.raises(exception.VolumeFileError, match="already exists"):
        volumes.create(path, 2 * MiB)


def test_create_failure_leaves_nothing(tmp_path):
    path = str(tmp_path / "volume-1")
    with mock.patch("os.ftruncate", side_effect=OSError(28, "No space")):
        with pytest.raises(OSError):
            volumes.create(path, MiB)
    assert os.listdir(tmp_path) == []


def test_extend_and_refuse_shrink(tmp_path):
    path = str(tmp_path / "volume-1")
    volumes.create(path, MiB)
    volumes.extend(path, 3 * MiB)
    assert os.path.getsize(path) == 3 * MiB
    volumes.extend(path, 3 * MiB)
    with pytest.raises(exception.VolumeFileError, match="shrink"):
        volumes.extend(path, MiB)
    with pytest.raises(exception.VolumeFileError, match="does not exist"):
        volumes.extend(str(tmp_path / "nope"), MiB)


@pytest.mark.parametrize("thick", [True, False])
def test_extend_on_a_full_filesystem_keeps_the_old_size(tmp_path, thick):
    path = str(tmp_path / "volume-1")
    volumes.create(path, MiB)
    full = OSError(errno.ENOSPC, "No space left on device")
    with mock.patch("os.posix_fallocate", side_effect=full), \
            mock.patch("os.fsync", side_effect=None if thick else full):
        with pytest.raises(OSError):
            volumes.extend(path, 3 * MiB, thick=thick)
    assert os.path.getsize(path) == MiB  # never grown and then failed half-way


def test_delete_missing_ok(tmp_path):
    path = str(tmp_path / "volume-1")
    volumes.create(path, MiB)
    assert volumes.delete(path)
    assert not volumes.delete(path)


def test_building_cleans_up(tmp_path):
    final = str(tmp_path / "volume-1")
    with pytest.raises(RuntimeError):
        with volumes.building(final) as tmp:
            assert os.path.basename(tmp).startswith(".tmp-volume-1-")
            open(tmp, "w").close()
            raise RuntimeError
    assert os.listdir(tmp_path) == []


def test_direct_io_ok_creates_the_file(tmp_path):
    path = str(tmp_path / "v.tmp")
    assert volumes.direct_io_ok(path) in (True, False)  # the host's filesystem decides
    assert os.path.getsize(path) == 0


def test_direct_io_refused_still_creates_the_file(tmp_path):
    path = str(tmp_path / "v.tmp")
    real_open = os.open

    def no_direct(p, flags, *args):
        if flags & os.O_DIRECT:
            raise OSError(errno.EINVAL, "Invalid argument")  # tmpfs
        return real_open(p, flags, *args)

    with mock.patch("os.open", side_effect=no_direct):
        assert volumes.direct_io_ok(path) is False
    assert os.path.exists(path)


def test_cleanup_orphans(tmp_path):
    old = tmp_path / ".tmp-volume-1-0123456789ab"
    new = tmp_path / ".tmp-volume-2-0123456789ab"
    keep = tmp_path / "volume-3"
    for p in (old, new, keep):
        p.write_bytes(b"")
    os.utime(old, (1000, 1000))
    os.utime(keep, (1000, 1000))
    sweep = volumes.cleanup_orphans(str(tmp_path), 3600)
    assert sweep.removed == [str(old)]
    assert sweep.kept == [str(new)]
    assert sorted(os.listdir(tmp_path)) == [".tmp-volume-2-0123456789ab", "volume-3"]


def test_cleanup_orphans_with_no_build_in_progress_removes_them_after_the_grace(tmp_path):
    crashed = tmp_path / ".tmp-volume-1-0123456789ab"
    fresh = tmp_path / ".tmp-volume-2-0123456789ab"
    for p in (crashed, fresh):
        p.write_bytes(b"")
    now = time.time()
    os.utime(crashed, (now - volumes.ORPHAN_GRACE - 5,) * 2)
    # max_age a day: without the lock's answer the crashed build's file would stay.
    assert volumes.cleanup_orphans(str(tmp_path), 86400, now=now) == ([str(crashed)],
                                                                       [str(fresh)])
    assert os.listdir(tmp_path) == [fresh.name]


def test_cleanup_orphans_leaves_files_of_a_build_in_progress(tmp_path):
    final = str(tmp_path / "volume-1")
    old = tmp_path / ".tmp-volume-9-0123456789ab"
    old.write_bytes(b"")
    os.utime(old, (time.time() - 3600,) * 2)
    with volumes.building(final) as tmp:
        open(tmp, "w").close()
        os.utime(tmp, (time.time() - 3600,) * 2)
        # Another process (another node on OCFS2) sweeps while this one builds.
        swept = subprocess.run(
            [sys.executable, "-c", "import sys; from cinder_ocfs2 import volumes; "
             "print(volumes.cleanup_orphans(sys.argv[1], 86400).removed)", str(tmp_path)],
            capture_output=True, text=True, check=True).stdout
        assert swept.strip() == "[]"
        assert os.path.exists(tmp) and old.exists()
        volumes.publish(tmp, final)
    assert volumes.cleanup_orphans(str(tmp_path), 86400).removed == [str(old)]


def test_cleanup_orphans_removes_only_our_temp_files(tmp_path):
    ours = tmp_path / ".tmp-volume-0b9f9f3c-1b7a-4c1e-9a56-7f3d2b1e4c11-3f2a9c0d11be"
    others = [".tmp-notes", ".tmp-foo-xyz", ".tmp-volume-1-0123456789AB",
              ".tmp-volume-1-" + "a" * 32, ".tmp--0123456789ab", ".tmp-cluster.conf-4242"]
    for name in [ours.name, *others]:
        (tmp_path / name).write_bytes(b"")
        os.utime(tmp_path / name, (1000, 1000))
    assert volumes.cleanup_orphans(str(tmp_path), 3600).removed == [str(ours)]
    assert sorted(os.listdir(tmp_path)) == sorted(others)


def test_is_temp_name_is_exactly_temp_path():
    made = volumes.temp_path("/pool/volume-1")
    assert os.path.dirname(made) == "/pool"
    assert volumes.is_temp_name(made) and volumes.is_temp_name(os.path.basename(made))
    assert volumes.is_temp_name(".tmp-a-0123456789ab")
    for name in (".tmp-notes", ".tmp-foo-xyz", ".tmp--0123456789ab", ".tmp-a-0123456789abc",
                 ".tmp-a-0123456789a", ".tmp-a-0123456789AB", "x.tmp-a-0123456789ab",
                 ".tmp-a-0123456789ab\n"):
        assert not volumes.is_temp_name(name), name


def test_seal_grows_chmods_allocates_and_syncs(tmp_path):
    path = tmp_path / ".tmp-volume-x-0123456789ab"
    path.write_bytes(b"IMAGE")
    with mock.patch("os.fsync", wraps=os.fsync) as fsync:
        volumes.seal(str(path), 4 * MiB, mode=0o640, thick=True)
    st = path.stat()
    assert st.st_size == 4 * MiB and st.st_mode & 0o777 == 0o640
    assert st.st_blocks * 512 >= 4 * MiB
    assert path.read_bytes()[:5] == b"IMAGE"
    fsync.assert_called_once()
    volumes.seal(str(path), MiB, mode=0o640)  # never shrinks
    assert path.stat().st_size == 4 * MiB
