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
import shutil
import socket
import stat
import struct
import subprocess
from unittest import mock

import pytest

from cinder_ocfs2 import manage

GiB = 1 << 30
MiB = 1 << 20
VOL_ID = "0b9f9f3c-1b7a-4c1e-9a56-7f3d2b1e4c11"
SNAP_ID = "5d0c0bfe-6a21-4c36-9f7e-2f1b6e2a9d40"
QEMU_IMG = shutil.which("qemu-img")


# ------------------------------------------------------------ test images

def _qcow2_header(backing: bytes = b"") -> bytes:
    # magic, version 3, backing file offset and size, cluster bits, virtual size
    head = struct.pack(">4sIQIIQ", b"QFI\xfb", 3, 0x200 if backing else 0, len(backing),
                       16, MiB)
    return (head.ljust(0x68, b"\0") + struct.pack(">I", 4) + struct.pack(">I", 0x70)
            ).ljust(0x200, b"\0") + backing.ljust(0x200, b"\0")


def _vmdk_header() -> bytes:
    head = struct.pack("<4sIIQQQQIQQ", b"KDMV", 1, 3, 2048, 128, 1, 2, 512, 0, 21)
    desc = (b'# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\n'
            b'createType="monolithicSparse"\n\n# Extent description\n'
            b'RW 2048 SPARSE "disk.vmdk"\n')
    return head.ljust(512, b"\0") + desc.ljust(1024, b"\0") + bytes(4096)


def _luks_header(version: int) -> bytes:
    return (b"LUKS\xba\xbe" + struct.pack(">H", version) + b"aes".ljust(32, b"\0")
            + b"xts-plain64".ljust(32, b"\0") + b"sha256".ljust(32, b"\0")
            + struct.pack(">II", 4096, 64)).ljust(2 * MiB, b"\0")


def _mbr(ptype: int = 0x83, boot: int = 0) -> bytes:
    sector = bytearray(512)
    sector[446:462] = struct.pack("<B3BB3BII", boot, 0, 0x21, 0, ptype, 0, 0, 0, 2048, 4096)
    sector[510:512] = b"\x55\xaa"
    return bytes(sector) + bytes(MiB)


HANDMADE = {
    "qcow2": _qcow2_header, "vmdk": _vmdk_header,
    "qcow2-backing": lambda: _qcow2_header(b"/etc/shadow"),
    "luks": lambda: _luks_header(1),
}
QEMU_ARGS = {  # qemu-img makes LUKS slowly (key derivation): those stay handmade
    "qcow2": ["-f", "qcow2"], "vmdk": ["-f", "vmdk"],
    "qcow2-backing": ["-f", "qcow2", "-F", "raw", "-b", "base.raw"],
}


@pytest.fixture(params=["qemu-img", "handmade"])
def make_image(request):
    """``make_image(path, kind)``: a real small image (qemu-img) or a minimal header."""
    if request.param == "qemu-img" and not QEMU_IMG:
        pytest.skip("qemu-img is not installed")

    def make(path: pathlib.Path, kind: str) -> pathlib.Path:
        if request.param == "qemu-img" and kind in QEMU_ARGS:
            (path.parent / "base.raw").write_bytes(b"")  # the backing file, by relative name
            subprocess.run([QEMU_IMG, "create", "-q", *QEMU_ARGS[kind], path.name, "16M"],
                           check=True, capture_output=True, cwd=path.parent)
        else:
            path.write_bytes(HANDMADE[kind]())
        return path
    return make


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
    (pool / ".tmp-volume-x-0123456789ab").write_bytes(b"x")
    raises(pool, ".tmp-volume-x-0123456789ab", "temporary file")
    (pool / ".tmp-notes").write_bytes(b"x")  # not ours: an ordinary file
    assert manage.resolve_source(pool, ".tmp-notes") == str(pool / ".tmp-notes")


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

@pytest.mark.parametrize("kind,fmt", [("qcow2", "qcow2"), ("vmdk", "vmdk"),
                                      ("qcow2-backing", "qcow2"), ("luks", "luks")])
def test_image_format_of_real_images(tmp_path, make_image, kind, fmt):
    assert manage.image_format(make_image(tmp_path / "disk.raw", kind)) == fmt


@pytest.mark.parametrize("head,fmt", [
    (b"\x00" * 0x40 + b"\x7f\x10\xda\xbe" + b"\x00" * 600, "vdi"),
    (b"vhdxfile" + b"\x00" * 600, "vhdx"),
    (_luks_header(2), "luks"),
    (_mbr(), "gpt"),  # what the inspector calls any disk with a partition table
    (b"\xebc\x90" + b"\x00" * 600, "raw"),
    (b"QFI\xfb", "raw"),  # too short to be a qcow2: qemu-img also reads it as raw
    (b"hello\n", "raw"),
    (b"", "raw"),
])
def test_image_format(tmp_path, head, fmt):
    (tmp_path / "f").write_bytes(head)
    assert manage.image_format(tmp_path / "f") == fmt


def test_image_format_uses_oslo_inspector(tmp_path):
    (tmp_path / "f").write_bytes(b"x")
    with mock.patch.object(manage.format_inspector, "detect_file_format") as detect:
        detect.return_value.__str__.return_value = "qed"
        assert manage.image_format(tmp_path / "f") == "qed"
    detect.assert_called_once_with(str(tmp_path / "f"))
    assert not hasattr(manage, "_MAGICS")


def test_check_raw_refuses_qcow2_named_raw(tmp_path, make_image):
    img = make_image(tmp_path / "disk.raw", "qcow2")
    with pytest.raises(manage.ManageError) as ei:
        manage.check_raw(img, "disk.raw")
    assert "disk.raw is a qcow2 image, not a raw volume" in str(ei.value)
    assert "qemu-img convert -O raw disk.raw disk.raw.raw" in str(ei.value)
    with pytest.raises(manage.ManageError, match="vmdk image"):
        manage.check_raw(make_image(tmp_path / "disk2.raw", "vmdk"))


def test_check_raw_warns_about_unsafe_images(tmp_path, make_image):
    img = make_image(tmp_path / "disk.raw", "qcow2-backing")
    with pytest.raises(manage.ManageError) as ei:
        manage.check_raw(img, "disk.raw")
    assert "qcow2 image" in str(ei.value)
    assert "backing_file: Image has a backing file" in str(ei.value)
    assert "qemu-img info disk.raw" in str(ei.value)


def test_check_raw_accepts_raw_luks_and_partitioned_disks(tmp_path, make_image):
    assert manage.check_raw(make_image(tmp_path / "v1", "luks")) == "luks"
    (tmp_path / "v2").write_bytes(_luks_header(2))  # Cinder's luks2 encryption provider
    assert manage.check_raw(tmp_path / "v2") == "luks"
    (tmp_path / "mbr").write_bytes(_mbr())
    assert manage.check_raw(tmp_path / "mbr") == "gpt"
    (tmp_path / "plain").write_bytes(os.urandom(8192))
    assert manage.check_raw(tmp_path / "plain") == "raw"


def test_check_raw_refuses_a_raw_format_failing_its_safety_checks(tmp_path):
    (tmp_path / "bad").write_bytes(_mbr(boot=0x33))
    with pytest.raises(manage.ManageError) as ei:
        manage.check_raw(tmp_path / "bad", "bad")
    assert "looks like a gpt disk but fails its safety checks" in str(ei.value)
    assert "invalid boot flag" in str(ei.value) and "qemu-img info bad" in str(ei.value)


def test_check_raw_refuses_an_ambiguous_image(tmp_path):
    (tmp_path / "f").write_bytes(b"x")
    error = manage.format_inspector.ImageFormatError("Multiple formats detected: gpt,iso")
    with mock.patch.object(manage.format_inspector, "detect_file_format",
                           side_effect=error):
        with pytest.raises(manage.ManageError, match="Multiple formats.*qemu-img info f"):
            manage.check_raw(tmp_path / "f", "f")


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


def test_adopt_as_cinder_refuses_roots_file_with_the_chown(pool):
    """A service running as cinder may not chmod or hard-link root's file: refused up
    front, naming the chown, before anything changed."""
    owner = os.stat(pool / "disk.raw").st_uid
    size = os.stat(pool / "disk.raw").st_size
    with mock.patch.object(os, "geteuid", return_value=owner + 950), \
            pytest.raises(manage.ManageError, match=r"belongs to uid .*`chown .*disk\.raw`"):
        manage.size_for(pool, "disk.raw", pool / "volume-1")
    with mock.patch.object(os, "geteuid", return_value=owner + 950), \
            pytest.raises(manage.ManageError, match="may not take it over"):
        manage.adopt(pool, "disk.raw", pool / "volume-1", mode=0o660)
    assert not (pool / "volume-1").exists()
    assert os.stat(pool / "disk.raw").st_size == size  # not grown


def test_list_manageable_as_cinder_says_how_to_hand_roots_file_over(pool):
    owner = os.stat(pool / "disk.raw").st_uid
    with mock.patch.object(os, "geteuid", return_value=owner + 950):
        entries = {e["reference"]["source-name"]: e
                   for e in manage.list_manageable(pool, {})}
    assert not entries["disk.raw"]["safe_to_manage"]
    assert "chown" in entries["disk.raw"]["reason_not_safe"]


def test_adopt_as_the_files_owner_or_root(pool):
    owner = os.stat(pool / "disk.raw").st_uid
    for euid in (0, owner):
        with mock.patch.object(os, "geteuid", return_value=euid):
            manage.check_owner(pool / "disk.raw")


def test_adopt_refuses_qcow2_with_fix(pool, make_image):
    size = make_image(pool / "old.raw", "qcow2").stat().st_size
    with pytest.raises(manage.ManageError, match="qemu-img convert -O raw"):
        manage.adopt(pool, "old.raw", pool / "volume-1")
    assert not (pool / "volume-1").exists()
    assert os.stat(pool / "old.raw").st_size == size  # untouched


def test_adopt_accepts_luks(pool, make_image):
    make_image(pool / "secret.img", "luks")
    assert manage.adopt(pool, "secret.img", pool / f"volume-{VOL_ID}") == 1


def test_adopt_in_place(pool):
    assert manage.adopt(pool, "disk.raw", pool / "disk.raw") == 1
    assert os.stat(pool / "disk.raw").st_size == GiB


def test_adopt_finishes_after_a_crash_between_link_and_unlink(pool):
    target = pool / f"volume-{VOL_ID}"
    os.link(pool / "sub" / "db.img", target)  # what adopt did before the crash
    with pytest.raises(manage.ManageError, match="2 hard links"):
        manage.resolve_source(pool, "sub/db.img")  # no target given: still refused
    assert manage.size_for(pool, "sub/db.img", target) == 1
    assert manage.adopt(pool, "sub/db.img", target, mode=0o660) == 1
    st = os.stat(target)
    assert st.st_size == GiB and st.st_nlink == 1 and stat.S_IMODE(st.st_mode) == 0o660
    assert not (pool / "sub" / "db.img").exists()
    with open(target, "rb") as f:
        assert f.read(4097) == b"x" * 4096 + b"\0"


def test_size_for_matches_adopt(pool):
    target = pool / f"volume-{VOL_ID}"
    assert manage.size_for(pool, "sub/db.img", target) == 1
    assert (pool / "sub" / "db.img").stat().st_size == 4096  # a query changes nothing
    with pytest.raises(manage.ManageError, match="qcow2"):
        (pool / "q").write_bytes(_qcow2_header())
        manage.size_for(pool, "q", target)


def test_other_hard_links_stay_refused(pool):
    target = pool / f"volume-{VOL_ID}"
    os.link(pool / "disk.raw", pool / "elsewhere")
    for call in (manage.adopt, manage.size_for):
        with pytest.raises(manage.ManageError, match="2 hard links"):
            call(pool, "disk.raw", target)
    os.link(pool / "disk.raw", target)  # the half-done link, plus another one
    for call in (manage.adopt, manage.size_for):
        with pytest.raises(manage.ManageError, match="3 hard links"):
            call(pool, "disk.raw", target)
    assert (pool / "disk.raw").exists() and os.stat(target).st_nlink == 3


def test_a_symlinked_target_is_not_a_half_done_adopt(pool):
    target = pool / f"volume-{VOL_ID}"
    os.link(pool / "disk.raw", pool / "elsewhere")
    os.symlink("elsewhere", target)
    with pytest.raises(manage.ManageError, match="2 hard links"):
        manage.adopt(pool, "disk.raw", target)
    assert (pool / "disk.raw").exists()


def test_adopt_in_place_with_another_link_is_refused(pool):
    os.link(pool / "disk.raw", pool / "elsewhere")
    with pytest.raises(manage.ManageError, match="2 hard links"):
        manage.adopt(pool, "disk.raw", pool / "disk.raw")


def owner_of(known: dict[str, str]):
    return known.get


def test_files_of_cinder_volumes_and_snapshots_are_refused(pool):
    owner = owner_of({f"volume-{VOL_ID}": f"volume {VOL_ID}",
                      f"snapshot-{SNAP_ID}": f"snapshot {SNAP_ID}"})
    for name in (f"volume-{VOL_ID}", f"snapshot-{SNAP_ID}"):
        (pool / name).write_bytes(b"data")
        for call in (manage.adopt, manage.size_for):
            with pytest.raises(manage.ManageError) as ei:
                call(pool, name, pool / "volume-new", owner=owner)
            kind = name.split("-")[0]
            assert f"{name} is the file of Cinder {kind} " in str(ei.value)
            assert "it is already managed" in str(ei.value)
        with pytest.raises(manage.ManageError, match="already managed"):
            manage.resolve_source(pool, name, owner=owner)
        assert (pool / name).exists()
    assert not (pool / "volume-new").exists()


def test_cinder_named_files_nobody_owns_can_be_managed(pool):
    orphan = f"volume-{SNAP_ID}"  # left by a lost Cinder database
    (pool / orphan).write_bytes(b"data")
    calls = []

    def owner(name):
        calls.append(name)
        return None
    assert manage.adopt(pool, orphan, pool / f"volume-{VOL_ID}", owner=owner) == 1
    assert manage.adopt(pool, "disk.raw", pool / "volume-2", owner=owner) == 1
    assert calls == [orphan]  # only Cinder-named files are asked about


def test_owner_follows_the_templates(pool):
    (pool / f"vol_{VOL_ID}").write_bytes(b"data")
    owner = owner_of({f"vol_{VOL_ID}": f"volume {VOL_ID}"})
    with pytest.raises(manage.ManageError, match="already managed"):
        manage.size_for(pool, f"vol_{VOL_ID}", pool / "x", owner=owner,
                        templates=("vol_%s", "snap_%s"))
    assert manage.size_for(pool, f"vol_{VOL_ID}", pool / "x", owner=owner) == 1


def test_adopt_snapshot_read_only_keeps_origin(pool):
    snap = pool / "backup.snap"
    snap.write_bytes(b"s" * 5000)
    recorded = manage.set_origin(snap, str(pool / f"volume-{VOL_ID}"))
    target = pool / f"snapshot-{SNAP_ID}"
    writable = []
    real_grow = manage.volumes.grow_to

    def grow_to(path, size):
        writable.append(bool(os.stat(path).st_mode & stat.S_IWUSR))
        real_grow(path, size)
    with mock.patch.object(manage.volumes, "grow_to", grow_to):
        assert manage.adopt(pool, "backup.snap", target, mode=0o660 & 0o444) == 1
    assert writable == [True]  # grown before the mode turns read-only
    st = os.stat(target)
    assert stat.S_IMODE(st.st_mode) == 0o440 and st.st_size == GiB and st.st_nlink == 1
    assert not snap.exists()
    if recorded:
        assert manage.get_origin(target) == f"volume-{VOL_ID}"


def test_adopt_read_only_snapshot_finishes_after_a_crash(pool):
    snap = pool / "backup.snap"
    snap.write_bytes(b"s" * 5000)
    os.truncate(snap, GiB)
    os.chmod(snap, 0o440)
    target = pool / f"snapshot-{SNAP_ID}"
    os.link(snap, target)
    assert manage.adopt(pool, "backup.snap", target, mode=0o440) == 1
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o440 and not snap.exists()


def test_adopt_refuses_symlink(pool):
    os.symlink(pool.parent / "outside.raw", pool / "evil")
    with pytest.raises(manage.ManageError, match="symbolic link"):
        manage.adopt(pool, "evil", pool / "volume-1")
    assert (pool.parent / "outside.raw").read_bytes() == b"secret"


# ------------------------------------------------------------------ listing

def build_listing_pool(pool: pathlib.Path) -> None:
    (pool / f"volume-{VOL_ID}").write_bytes(b"v")
    os.truncate(pool / f"volume-{VOL_ID}", 2 * GiB)
    (pool / "old.qcow2").write_bytes(_qcow2_header())
    (pool / "empty.raw").write_bytes(b"")
    os.symlink("disk.raw", pool / "link")
    (pool / "hard").write_bytes(b"h")
    os.link(pool / "hard", pool / "hard2")
    (pool / ".tmp-volume-x-0123456789ab").write_bytes(b"t")
    (pool / ".hidden").write_bytes(b"h")
    (pool / f"snapshot-{SNAP_ID}").write_bytes(b"s")
    (pool / "snapshot-1").write_bytes(b"s")  # not a Cinder name: a volume candidate


def test_list_manageable_volumes(pool):
    build_listing_pool(pool)
    got = manage.list_manageable(pool, {f"volume-{VOL_ID}": VOL_ID})
    by = {e["reference"]["source-name"]: e for e in got}
    assert sorted(by) == sorted(["disk.raw", "empty.raw", "hard", "hard2", "link",
                                 "old.qcow2", "snapshot-1", f"volume-{VOL_ID}"])
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
    recorded = manage.set_origin(pool / f"snapshot-{SNAP_ID}", str(pool / "volume-abc"))
    got = manage.list_manageable(pool, {}, snapshots=True)
    assert [e["reference"]["source-name"] for e in got] == [f"snapshot-{SNAP_ID}"]
    assert got[0]["safe_to_manage"] is True
    if recorded:
        assert got[0]["source_reference"] == {"source-name": "volume-abc"}
    else:
        assert got[0]["source_reference"] is None


def test_list_manageable_marks_files_cinder_owns(pool):
    build_listing_pool(pool)
    (pool / f"volume-{SNAP_ID}").write_bytes(b"orphan")  # no such Cinder volume
    (pool / f"volume-{VOL_ID}.info").write_bytes(b"not a Cinder name")
    owner = owner_of({f"volume-{VOL_ID}": f"volume {VOL_ID}",
                      f"snapshot-{SNAP_ID}": f"snapshot {SNAP_ID}"})
    by = {e["reference"]["source-name"]: e for e in manage.list_manageable(pool, {},
                                                                            owner=owner)}
    vol = by[f"volume-{VOL_ID}"]
    assert (vol["safe_to_manage"], vol["reason_not_safe"], vol["cinder_id"], vol["size"]) == (
        False, f"already managed by Cinder as volume {VOL_ID}", VOL_ID, 2)
    assert by[f"volume-{SNAP_ID}"]["safe_to_manage"] is True
    assert by[f"volume-{SNAP_ID}"]["cinder_id"] is None
    assert by[f"volume-{VOL_ID}.info"]["safe_to_manage"] is True
    snaps = manage.list_manageable(pool, {}, snapshots=True, owner=owner)
    assert [(e["reference"]["source-name"], e["safe_to_manage"], e["reason_not_safe"],
             e["cinder_id"]) for e in snaps] == [
        (f"snapshot-{SNAP_ID}", False, f"already managed by Cinder as snapshot {SNAP_ID}",
         SNAP_ID)]
    # the managed mapping still wins, with its own wording
    got = manage.list_manageable(pool, {f"volume-{VOL_ID}": "other-id"}, owner=owner)
    vol = {e["reference"]["source-name"]: e for e in got}[f"volume-{VOL_ID}"]
    assert (vol["reason_not_safe"], vol["cinder_id"]) == ("already managed", "other-id")


def test_list_manageable_splits_by_the_snapshot_template(pool):
    (pool / f"snap_{SNAP_ID}").write_bytes(b"s")
    (pool / f"snapshot-{SNAP_ID}").write_bytes(b"s")
    templates = ("vol_%s", "snap_%s")
    snaps = manage.list_manageable(pool, {}, snapshots=True, templates=templates)
    assert [e["reference"]["source-name"] for e in snaps] == [f"snap_{SNAP_ID}"]
    vols = manage.list_manageable(pool, {}, templates=templates)
    assert [e["reference"]["source-name"] for e in vols] == ["disk.raw", f"snapshot-{SNAP_ID}"]


def test_list_manageable_skips_only_our_temp_files(pool):
    (pool / ".tmp-volume-x-0123456789ab").write_bytes(b"t")
    (pool / "tmp-notes.raw").write_bytes(b"t")
    names = [e["reference"]["source-name"] for e in manage.list_manageable(pool, {})]
    assert names == ["disk.raw", "tmp-notes.raw"]


def test_origin_confirms_the_volume_of_a_snapshot(pool):
    vol = pool / f"volume-{VOL_ID}"
    if not manage.set_origin(pool / "disk.raw", str(vol)):
        pytest.skip("no user xattrs on this filesystem")
    assert manage.get_origin(pool / "disk.raw") == os.path.basename(vol)
    os.setxattr(pool / "disk.raw", manage.ORIGIN_XATTR, b"\xff\xfe")
    assert manage.get_origin(pool / "disk.raw") == os.fsdecode(b"\xff\xfe")  # no crash


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
