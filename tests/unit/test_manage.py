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
"""Tests for cinder_ocfs2.manage."""

from __future__ import annotations

import os
import pathlib
import socket
import stat
from unittest import mock

import pytest

from cinder_ocfs2 import manage

GiB = 1 << 30
VOL_ID = "0b9f9f3c-1b7a-4c1e-9a56-7f3d2b1e4c11"


@pytest.fixture
def pool(tmp_path) -> pathlib.Path:
    p = tmp_path / "pool"
    p.mkdir()
    (p / "disk.raw").write_bytes(b"\x00" * 512 + b"data")
    (p / "sub").mkdir()
    (p / "sub" / "db.img").write_bytes(b"x" * 4096)
    (tmp_path / "outside.raw").write_bytes(b"secret")
    return p


def raises(pool, name, *words):
    with pytest.raises(manage.ManageError) as ei:
        manage.resolve_source(pool, name)
    for w in words:
        assert w in str(ei.value)
    return ei.value


# ------------------------------------------------------------ resolve_source

def test_relative_names_resolve_inside_pool(pool):
    assert manage.resolve_source(pool, "disk.raw") == str(pool / "disk.raw")
    assert manage.resolve_source(pool, "./sub//db.img") == str(pool / "sub" / "db.img")


def test_absolute_name_inside_pool_is_accepted(pool):
    assert manage.resolve_source(pool, str(pool / "sub/db.img")) == str(pool / "sub/db.img")


def test_absolute_name_outside_pool_is_refused(pool):
    raises(pool, str(pool.parent / "outside.raw"), "outside the pool")
    raises(pool, "/etc/passwd", "outside the pool")
    raises(pool, str(pool) + "-evil/x", "outside the pool")


@pytest.mark.parametrize("name", ["../outside.raw", "sub/../disk.raw", "..", "a/.."])
def test_dotdot_is_refused(pool, name):
    raises(pool, name, "'..'")


@pytest.mark.parametrize("name", ["", "   ", None, 42, ".", "/"])
def test_empty_or_non_string_is_refused(pool, name):
    with pytest.raises(manage.ManageError):
        manage.resolve_source(pool, name)


def test_nul_byte_is_refused(pool):
    raises(pool, "disk.raw\0", "NUL")


def test_symlink_file_is_refused_even_when_target_is_inside(pool):
    os.symlink("disk.raw", pool / "link-in")
    os.symlink(pool.parent / "outside.raw", pool / "link-out")
    raises(pool, "link-in", "link-in is a symbolic link")
    raises(pool, "link-out", "symbolic link")


def test_symlink_directory_component_is_refused(pool):
    os.symlink(pool.parent, pool / "up")
    raises(pool, "up/outside.raw", "up is a symbolic link")
    os.symlink("sub", pool / "alias")
    raises(pool, "alias/db.img", "alias is a symbolic link")


def test_missing_file_and_missing_dir(pool):
    raises(pool, "nope.raw", "nope.raw does not exist in pool")
    raises(pool, "nodir/x", "nodir does not exist")
    raises(pool, "disk.raw/x", "disk.raw is not a directory")


def test_directory_is_refused(pool):
    raises(pool, "sub", "sub is a directory", "regular files")


def test_fifo_and_socket_are_refused(pool):
    os.mkfifo(pool / "fifo")
    raises(pool, "fifo", "a FIFO")
    s = socket.socket(socket.AF_UNIX)
    try:
        s.bind(str(pool / "sock"))
        raises(pool, "sock", "a socket")
    finally:
        s.close()


def test_hard_linked_file_is_refused(pool):
    os.link(pool / "disk.raw", pool / "other-name")
    raises(pool, "disk.raw", "2 hard links")


def test_temp_file_is_refused(pool):
    (pool / ".tmp-volume-x-0123456789abcdef").write_bytes(b"x")
    raises(pool, ".tmp-volume-x-0123456789abcdef", "temporary file")


def test_missing_pool_is_named(tmp_path):
    with pytest.raises(manage.ManageError, match="is it mounted"):
        manage.resolve_source(tmp_path / "gone", "x")


def test_file_on_nested_mount_is_refused(pool):
    real_lstat = os.lstat

    def lstat(path, *, dir_fd=None):
        st = real_lstat(path, dir_fd=dir_fd)
        if path == "sub":
            fields = list(st)
            fields[stat.ST_DEV] = st.st_dev + 1
            return os.stat_result(fields)
        return st

    with mock.patch.object(manage.os, "lstat", lstat):
        raises(pool, "sub/db.img", "sub is on another filesystem")


# ------------------------------------------------------------------- format

@pytest.mark.parametrize("head,fmt", [
    (b"QFI\xfb\x00\x00\x00\x03", "qcow2"),
    (b"KDMV", "vmdk"),
    (b"vhdxfile", "vhdx"),
    (b"\x00" * 0x40 + b"\x7f\x10\xda\xbe", "vdi"),
    (b"LUKS\xba\xbe\x00\x02", "raw (LUKS encrypted)"),
    (b"\xebc\x90" + b"\x00" * 600, "raw"),
    (b"", "raw"),
])
def test_image_format(tmp_path, head, fmt):
    (tmp_path / "f").write_bytes(head)
    assert manage.image_format(tmp_path / "f") == fmt


def test_size_gib_rounds_up(tmp_path):
    f = tmp_path / "f"
    f.write_bytes(b"")
    assert manage.size_gib(f) == 0
    os.truncate(f, 1)
    assert manage.size_gib(f) == 1
    os.truncate(f, 3 * GiB)
    assert manage.size_gib(f) == 3
    os.truncate(f, 3 * GiB + 1)
    assert manage.size_gib(f) == 4


# -------------------------------------------------------------------- adopt

def test_adopt_grows_chmods_and_renames(pool):
    target = pool / f"volume-{VOL_ID}"
    assert manage.adopt(pool, "sub/db.img", target, mode=0o660) == 1
    st = os.stat(target)
    assert st.st_size == GiB and stat.S_IMODE(st.st_mode) == 0o660 and st.st_nlink == 1
    assert not (pool / "sub" / "db.img").exists()
    with open(target, "rb") as f:
        assert f.read(4097) == b"x" * 4096 + b"\0"


def test_adopt_refuses_existing_target(pool):
    (pool / "volume-taken").write_bytes(b"mine")
    with pytest.raises(manage.ManageError, match="already exists"):
        manage.adopt(pool, "disk.raw", pool / "volume-taken")
    assert (pool / "volume-taken").read_bytes() == b"mine"
    assert (pool / "disk.raw").exists()


def test_adopt_refuses_qcow2_with_fix(pool):
    (pool / "old.qcow2").write_bytes(b"QFI\xfb" + b"\0" * 100)
    with pytest.raises(manage.ManageError, match="qemu-img convert -O raw"):
        manage.adopt(pool, "old.qcow2", pool / "volume-1")
    assert not (pool / "volume-1").exists()
    assert os.stat(pool / "old.qcow2").st_size == 104  # untouched


def test_adopt_in_place(pool):
    assert manage.adopt(pool, "disk.raw", pool / "disk.raw") == 1
    assert os.stat(pool / "disk.raw").st_size == GiB


def test_adopt_refuses_symlink(pool):
    os.symlink(pool.parent / "outside.raw", pool / "evil")
    with pytest.raises(manage.ManageError, match="symbolic link"):
        manage.adopt(pool, "evil", pool / "volume-1")
    assert (pool.parent / "outside.raw").read_bytes() == b"secret"


# ------------------------------------------------------------------ listing

def build_listing_pool(pool: pathlib.Path) -> None:
    (pool / f"volume-{VOL_ID}").write_bytes(b"v")
    os.truncate(pool / f"volume-{VOL_ID}", 2 * GiB)
    (pool / "old.qcow2").write_bytes(b"QFI\xfb" + b"\0" * 100)
    (pool / "empty.raw").write_bytes(b"")
    os.symlink("disk.raw", pool / "link")
    (pool / "hard").write_bytes(b"h")
    os.link(pool / "hard", pool / "hard2")
    (pool / ".tmp-volume-x-0123456789ab").write_bytes(b"t")
    (pool / ".hidden").write_bytes(b"h")
    (pool / "snapshot-1").write_bytes(b"s")


def test_list_manageable_volumes(pool):
    build_listing_pool(pool)
    got = manage.list_manageable(pool, {f"volume-{VOL_ID}": VOL_ID})
    by = {e["reference"]["source-name"]: e for e in got}
    assert sorted(by) == sorted(["disk.raw", "empty.raw", "hard", "hard2", "link",
                                 "old.qcow2", f"volume-{VOL_ID}"])
    assert by["disk.raw"]["safe_to_manage"] is True
    assert by["disk.raw"]["reason_not_safe"] is None
    assert by["disk.raw"]["size"] == 1
    assert by["disk.raw"]["extra_info"]["format"] == "raw"
    assert float(by["disk.raw"]["extra_info"]["allocated_gib"]) >= 0
    managed = by[f"volume-{VOL_ID}"]
    assert (managed["safe_to_manage"], managed["reason_not_safe"], managed["cinder_id"],
            managed["size"]) == (False, "already managed", VOL_ID, 2)
    assert "qcow2" in by["old.qcow2"]["reason_not_safe"]
    assert "empty" in by["empty.raw"]["reason_not_safe"]
    assert "symbolic link" in by["link"]["reason_not_safe"]
    assert "hard links" in by["hard"]["reason_not_safe"]
    for e in got:
        assert set(e) == {"reference", "size", "safe_to_manage", "reason_not_safe",
                          "cinder_id", "extra_info"}
        assert e["safe_to_manage"] == (e["reason_not_safe"] is None)


def test_list_manageable_snapshots_with_origin(pool):
    build_listing_pool(pool)
    recorded = manage.set_origin(pool / "snapshot-1", str(pool / "volume-abc"))
    got = manage.list_manageable(pool, {}, snapshots=True)
    assert [e["reference"]["source-name"] for e in got] == ["snapshot-1"]
    assert got[0]["safe_to_manage"] is True
    if recorded:
        assert got[0]["source_reference"] == {"source-name": "volume-abc"}
    else:
        assert got[0]["source_reference"] is None


def test_origin_missing_is_none(pool):
    assert manage.get_origin(pool / "disk.raw") is None
    assert manage.get_origin(pool / "nope") is None


def test_listing_paginates_with_cinder(pool):
    from cinder.volume import volume_utils
    build_listing_pool(pool)
    entries = manage.list_manageable(pool, {})
    page = volume_utils.paginate_entries_list(entries, None, 3, 0,
                                              ["size", "reference"], ["desc", "asc"])
    assert len(page) == 3
    assert page[0]["size"] == 2
