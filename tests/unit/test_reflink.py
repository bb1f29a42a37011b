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
"""Tests for cinder_ocfs2.reflink.

Nothing here depends on whether the test disk can reflink (ext4 and tmpfs
cannot, XFS and btrfs can): a test meaning "no reflink" replaces
``_ficlone`` with one failing EOPNOTSUPP (:func:`no_reflink`), one meaning
"reflink" with a byte copy (:func:`fake_ficlone`).  Only
:func:`test_real_ioctl_on_host_filesystem` issues the real ioctl, and
accepts either answer.  The real reflink is proven on OCFS2 in
tests/lab/test_reflink.py.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import pathlib
import stat
from unittest import mock

import pytest

from cinder_ocfs2 import reflink, volumes

MiB = 1 << 20
SHM = pathlib.Path("/dev/shm")


@pytest.fixture(autouse=True)
def _fresh_cache():
    reflink.clear_cache()
    yield
    reflink.clear_cache()


@pytest.fixture(params=["disk", "tmpfs"])
def where(request, tmp_path):
    """A scratch directory on the test disk, and one on tmpfs when present."""
    if request.param == "disk":
        yield tmp_path
        return
    if not SHM.is_dir() or not os.access(SHM, os.W_OK):
        pytest.skip("no writable /dev/shm")
    d = SHM / f"test-reflink-{os.getpid()}-{tmp_path.name}"
    d.mkdir()
    yield d
    for p in d.iterdir():
        p.unlink()
    d.rmdir()


def fake_ficlone(src_fd: int, dst_fd: int) -> None:
    """Stand-in for FICLONE on a filesystem that has it: copy every byte."""
    size = os.fstat(src_fd).st_size
    os.ftruncate(dst_fd, 0)
    off = 0
    while off < size:
        buf = os.pread(src_fd, MiB, off)
        os.pwrite(dst_fd, buf, off)
        off += len(buf)


def raising(err: int):
    def _raise(src_fd, dst_fd):
        raise OSError(err, os.strerror(err))
    return _raise


#: What FICLONE does on a filesystem without reflinks (ext4, tmpfs, OCFS2 without refcount).
def no_reflink():
    return mock.patch.object(reflink, "_ficlone", raising(errno.EOPNOTSUPP))


def make_sparse(path: pathlib.Path, size: int, chunks: dict[int, bytes]) -> None:
    with open(path, "wb") as f:
        f.truncate(size)
        for off, data in chunks.items():
            f.seek(off)
            f.write(data)


def digest(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(MiB), b""):
            h.update(block)
    return h.hexdigest()


def leftovers(d: pathlib.Path) -> list[str]:
    return sorted(p.name for p in d.iterdir() if reflink.is_temp_name(p.name))


# --------------------------------------------------------------- temp names

def test_temp_names_of_volumes_are_recognised():
    p = volumes.temp_path("/pool/volume-1")
    assert os.path.dirname(p) == "/pool"
    assert reflink.is_temp_name(p)
    assert reflink.is_temp_name(".tmp-volume-1-" + "a" * 12)
    assert reflink.is_temp_name is volumes.is_temp_name


@pytest.mark.parametrize("name", ["volume-1", ".tmp-volume-1", ".tmp-volume-1-xyz",
                                  ".tmpvolume-" + "a" * 32, "volume-1-" + "a" * 32,
                                  ".tmp-volume-1-" + "a" * 11, ".tmp-volume-1-" + "a" * 32,
                                  ".tmp-volume-1-" + "a" * 13, ".tmp-notes"])
def test_is_temp_name_rejects_ordinary_names(name):
    assert not reflink.is_temp_name(name)


# ------------------------------------------------------------------- clone

def test_clone_issues_ficlone_on_dst_fd_with_src_fd(tmp_path):
    src = tmp_path / "src"
    src.write_bytes(b"x")
    with mock.patch.object(reflink.fcntl, "ioctl") as ioctl:
        reflink.clone(src, tmp_path / "dst")
    (dst_fd, request, src_fd), _ = ioctl.call_args
    assert request == 0x40049409 == reflink.FICLONE
    assert dst_fd != src_fd


@pytest.mark.parametrize("err", [errno.EOPNOTSUPP, errno.ENOTTY, errno.EINVAL, errno.ENOSYS])
def test_clone_without_reflink_is_unsupported(tmp_path, err):
    src = tmp_path / "src"
    src.write_bytes(b"data" * 1000)
    with mock.patch.object(reflink, "_ficlone", raising(err)):
        with pytest.raises(reflink.ReflinkUnsupported) as ei:
            reflink.clone(src, tmp_path / "dst")
    assert ei.value.errno == err and not ei.value.cross_filesystem
    assert "tunefs.ocfs2 --fs-features=refcount" in str(ei.value)
    assert not (tmp_path / "dst").exists()


def test_real_ioctl_on_host_filesystem(where):
    """The real FICLONE: a copy where the filesystem reflinks, else unsupported."""
    src = where / "src"
    src.write_bytes(b"data" * 1000)
    try:
        reflink.clone(src, where / "dst")
    except reflink.ReflinkUnsupported as exc:
        assert exc.errno in (errno.EOPNOTSUPP, errno.EXDEV, errno.EINVAL, errno.ENOTTY)
        assert "tunefs.ocfs2 --fs-features=refcount" in str(exc)
        assert not (where / "dst").exists()
    else:
        assert (where / "dst").read_bytes() == b"data" * 1000


def test_clone_cross_filesystem_is_named(tmp_path):
    src = tmp_path / "src"
    src.write_bytes(b"x")
    with mock.patch.object(reflink, "_ficlone", raising(errno.EXDEV)):
        with pytest.raises(reflink.ReflinkUnsupported) as ei:
            reflink.clone(src, tmp_path / "dst")
    assert ei.value.cross_filesystem
    assert "different filesystems" in str(ei.value)
    assert "refcount" not in str(ei.value)


@pytest.mark.parametrize("err,words", [(errno.EROFS, "read-only"),
                                       (errno.ENOSPC, "full"),
                                       (errno.EACCES, "permission")])
def test_clone_other_errors_are_not_unsupported(tmp_path, err, words):
    src = tmp_path / "src"
    src.write_bytes(b"x")
    with mock.patch.object(reflink, "_ficlone", raising(err)):
        with pytest.raises(reflink.ReflinkError) as ei:
            reflink.clone(src, tmp_path / "dst")
    assert not isinstance(ei.value, reflink.ReflinkUnsupported)
    assert ei.value.errno == err
    assert words in str(ei.value)


def test_clone_refuses_existing_dst_and_removes_failed_dst(tmp_path):
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.write_bytes(b"x")
    dst.write_bytes(b"keep")
    with pytest.raises(FileExistsError):
        reflink.clone(src, dst)
    assert dst.read_bytes() == b"keep"
    with no_reflink(), pytest.raises(reflink.ReflinkUnsupported):
        reflink.clone(src, tmp_path / "new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dst", "src"]


def test_clone_missing_source_raises_filenotfound(tmp_path):
    with pytest.raises(FileNotFoundError):
        reflink.clone(tmp_path / "nope", tmp_path / "dst")
    assert not (tmp_path / "dst").exists()


# ------------------------------------------------------------ clone_atomic

@mock.patch.object(reflink, "_ficlone", fake_ficlone)
def test_clone_atomic_creates_dst_and_leaves_no_temp(tmp_path):
    src = tmp_path / "volume-a"
    make_sparse(src, 8 * MiB, {0: b"head", 4 * MiB: b"middle"})
    os.chmod(src, 0o640)
    reflink.clone_atomic(src, tmp_path / "snapshot-a")
    assert digest(tmp_path / "snapshot-a") == digest(src)
    assert stat.S_IMODE(os.stat(tmp_path / "snapshot-a").st_mode) == 0o640
    assert leftovers(tmp_path) == []


@mock.patch.object(reflink, "_ficlone", fake_ficlone)
def test_clone_atomic_grows_and_sets_mode(tmp_path):
    src = tmp_path / "snap"
    src.write_bytes(b"a" * 4096)
    dst = tmp_path / "vol"
    reflink.clone_atomic(src, dst, size=10 * MiB, mode=0o660)
    st = os.stat(dst)
    assert st.st_size == 10 * MiB
    assert stat.S_IMODE(st.st_mode) == 0o660
    with open(dst, "rb") as f:
        assert f.read(4096) == b"a" * 4096
        assert f.read(4096) == b"\0" * 4096


@mock.patch.object(reflink, "_ficlone", fake_ficlone)
def test_clone_atomic_refuses_to_shrink_and_cleans_up(tmp_path):
    src = tmp_path / "snap"
    src.write_bytes(b"a" * 8192)
    with pytest.raises(ValueError, match="smaller than its source"):
        reflink.clone_atomic(src, tmp_path / "vol", size=4096)
    assert not (tmp_path / "vol").exists()
    assert leftovers(tmp_path) == []


@mock.patch.object(reflink, "_ficlone", fake_ficlone)
def test_clone_atomic_replaces_existing_dst_keeping_path(tmp_path):
    """Revert to snapshot: the volume path now holds the snapshot's data."""
    vol, snap = tmp_path / "volume-1", tmp_path / "snapshot-1"
    snap.write_bytes(b"old" * 1000)
    vol.write_bytes(b"new data written after the snapshot" * 1000)
    reflink.clone_atomic(snap, vol)
    assert vol.read_bytes() == b"old" * 1000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["snapshot-1", "volume-1"]


def test_clone_atomic_failure_leaves_dst_untouched(tmp_path):
    vol, snap = tmp_path / "volume-1", tmp_path / "snapshot-1"
    snap.write_bytes(b"snap")
    vol.write_bytes(b"precious")
    with pytest.raises(reflink.ReflinkUnsupported):
        with mock.patch.object(reflink, "_ficlone", raising(errno.EOPNOTSUPP)):
            reflink.clone_atomic(snap, vol)
    assert vol.read_bytes() == b"precious"
    assert leftovers(tmp_path) == []


def test_clone_atomic_is_idempotent(tmp_path):
    src = tmp_path / "s"
    src.write_bytes(b"z" * 5000)
    with mock.patch.object(reflink, "_ficlone", fake_ficlone):
        reflink.clone_atomic(src, tmp_path / "d")
        reflink.clone_atomic(src, tmp_path / "d")
    assert (tmp_path / "d").read_bytes() == b"z" * 5000
    assert leftovers(tmp_path) == []


# ------------------------------------------------------------- sparse copy

def test_data_extents_of_empty_and_all_hole_files(where):
    for size in (0, 16 * MiB):
        p = where / f"f{size}"
        make_sparse(p, size, {})
        fd = os.open(p, os.O_RDONLY)
        try:
            assert reflink.data_extents(fd, size) == []
        finally:
            os.close(fd)


def test_data_extents_finds_written_regions(where):
    p = where / "f"
    make_sparse(p, 64 * MiB, {0: b"a" * 4096, 32 * MiB: b"b" * 8192})
    fd = os.open(p, os.O_RDONLY)
    try:
        ext = reflink.data_extents(fd, 64 * MiB)
    finally:
        os.close(fd)
    assert ext[0][0] == 0
    assert any(off <= 32 * MiB < off + n for off, n in ext)
    assert sum(n for _, n in ext) < 4 * MiB


def test_data_extents_without_seek_data_is_all_data():
    with mock.patch.object(reflink.os, "lseek", side_effect=OSError(errno.EINVAL, "x")):
        assert reflink.data_extents(3, 100) == [(0, 100)]


def _assert_same_sparse_file(src, dst, size):
    s, d = os.stat(src), os.stat(dst)
    assert d.st_size == s.st_size == size
    assert digest(dst) == digest(src)
    # holes stay holes: the copy allocates about what the source allocates
    assert d.st_blocks <= s.st_blocks + 2 * MiB // 512
    fd = os.open(dst, os.O_RDONLY)
    try:
        assert os.lseek(fd, 0, os.SEEK_HOLE) < 4 * MiB
        assert os.lseek(fd, 8 * MiB, os.SEEK_DATA) >= 16 * MiB - MiB
    finally:
        os.close(fd)


def test_sparse_copy_preserves_data_size_and_holes(where):
    src = where / "volume-src"
    size = 64 * MiB
    make_sparse(src, size, {0: os.urandom(64 * 1024), 16 * MiB: os.urandom(MiB),
                            size - 4096: b"tail" * 1024})
    reflink.sparse_copy(src, where / "volume-dst")
    _assert_same_sparse_file(src, where / "volume-dst", size)
    assert leftovers(where) == []


def test_sparse_copy_falls_back_to_pread_pwrite(tmp_path):
    """copy_file_range refusing (EXDEV on old kernels) must not lose holes."""
    src = tmp_path / "src"
    size = 64 * MiB
    make_sparse(src, size, {0: os.urandom(64 * 1024), 16 * MiB: os.urandom(MiB)})
    with mock.patch.object(reflink.os, "copy_file_range",
                           side_effect=OSError(errno.EXDEV, "cross")) as cfr:
        reflink.sparse_copy(src, tmp_path / "dst")
    assert cfr.call_count == 1  # not retried for every extent
    _assert_same_sparse_file(src, tmp_path / "dst", size)


def test_sparse_copy_grows_and_sets_mode(tmp_path):
    src = tmp_path / "snap"
    make_sparse(src, MiB, {0: b"x" * 100})
    reflink.sparse_copy(src, tmp_path / "vol", size=3 * MiB, mode=0o600)
    st = os.stat(tmp_path / "vol")
    assert st.st_size == 3 * MiB and stat.S_IMODE(st.st_mode) == 0o600


def test_sparse_copy_error_leaves_nothing(tmp_path):
    src = tmp_path / "src"
    make_sparse(src, MiB, {0: b"x"})
    with mock.patch.object(reflink.os, "copy_file_range",
                           side_effect=OSError(errno.ENOSPC, "full")):
        with pytest.raises(OSError):
            reflink.sparse_copy(src, tmp_path / "dst")
    assert not (tmp_path / "dst").exists()
    assert leftovers(tmp_path) == []


# -------------------------------------------------------------------- copy

def test_copy_falls_back_and_logs(where, caplog):
    src = where / "src"
    make_sparse(src, 8 * MiB, {MiB: b"data"})
    with no_reflink(), caplog.at_level(logging.INFO, logger="cinder_ocfs2.reflink"):
        how = reflink.copy(src, where / "dst")
    assert how == "sparse"
    assert digest(where / "dst") == digest(src)
    assert "sparse copy" in caplog.text
    assert leftovers(where) == []


def test_copy_without_fallback_raises(tmp_path):
    src = tmp_path / "src"
    src.write_bytes(b"x")
    with no_reflink(), pytest.raises(reflink.ReflinkUnsupported):
        reflink.copy(src, tmp_path / "dst", allow_fallback=False)
    assert not (tmp_path / "dst").exists()


@mock.patch.object(reflink, "_ficlone", fake_ficlone)
def test_copy_uses_reflink_when_possible(tmp_path):
    src = tmp_path / "src"
    src.write_bytes(b"x" * 10)
    with mock.patch.object(reflink, "sparse_copy") as sparse:
        assert reflink.copy(src, tmp_path / "dst", size=4096) == "reflink"
    sparse.assert_not_called()
    assert os.stat(tmp_path / "dst").st_size == 4096


def test_copy_does_not_fall_back_on_real_errors(tmp_path):
    src = tmp_path / "src"
    src.write_bytes(b"x")
    with mock.patch.object(reflink, "_ficlone", raising(errno.EROFS)):
        with pytest.raises(reflink.ReflinkError, match="read-only"):
            reflink.copy(src, tmp_path / "dst")


# -------------------------------------------------------- supports_reflink

def test_supports_reflink_false_without_reflink_and_cached(where):
    with no_reflink():
        assert reflink.supports_reflink(where) is False
    with mock.patch.object(reflink, "_probe") as probe:
        assert reflink.supports_reflink(where) is False
    probe.assert_not_called()
    assert list(where.iterdir()) == []


@mock.patch.object(reflink, "_ficlone", fake_ficlone)
def test_supports_reflink_true_when_clone_works(tmp_path):
    assert reflink.supports_reflink(tmp_path) is True
    assert list(tmp_path.iterdir()) == []


def test_supports_reflink_transient_failure_not_cached(tmp_path):
    with mock.patch.object(reflink, "_ficlone", raising(errno.EROFS)):
        assert reflink.supports_reflink(tmp_path) is False
    with mock.patch.object(reflink, "_ficlone", fake_ficlone):
        assert reflink.supports_reflink(tmp_path) is True
    with mock.patch.object(reflink, "_probe") as probe:
        assert reflink.supports_reflink(tmp_path) is True
        reflink.supports_reflink(tmp_path, refresh=True)
    probe.assert_called_once()


def test_rw_fallback_turns_zero_chunks_into_holes(tmp_path):
    """Written zeros are data to SEEK_DATA; the pread/pwrite path skips them."""
    src = tmp_path / "src"
    with open(src, "wb") as f:
        f.write(os.urandom(MiB) + bytes(4 * MiB) + os.urandom(MiB // 2))
        os.fsync(f.fileno())
    with mock.patch.object(reflink.os, "copy_file_range",
                           side_effect=OSError(errno.EXDEV, "cross")):
        reflink.sparse_copy(src, tmp_path / "dst")
    assert digest(tmp_path / "dst") == digest(src)
    assert os.stat(tmp_path / "dst").st_blocks * 512 <= 2 * MiB


def test_convert_argv_raw_to_raw() -> None:
    assert reflink.convert_argv("/a/v", "/b/.t", direct=True) == [
        "qemu-img", "convert", "-f", "raw", "-O", "raw", "-t", "none", "/a/v", "/b/.t"]
    assert "-t" not in reflink.convert_argv("/a/v", "/b/.t", direct=False)
