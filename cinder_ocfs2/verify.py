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
"""Cross-node data verification: write a checksummed pattern here, check it anywhere.

Two engines:

* **fio** (the operators' tool): ``--verify=crc32c`` with libaio, iodepth 32,
  O_DIRECT, random 4k writes; the check on another node is the same job with
  ``--verify_only``.  :func:`parse_fio_json` and :func:`parse_fio_errors` read
  its output.
* **builtin** (when fio is absent): every block starts with a 32-byte header
  ``magic(8) offset(8) seed(8) crc32(4) reserved(4)`` followed by a payload
  derived from (seed, offset) with SHAKE-128; the crc32 covers the header
  (crc field zeroed) and the payload.  A block that is stale, misplaced,
  torn or from another run is reported with its offset and reason.

Both open the file with O_DIRECT when the filesystem allows it, so the check
reads the shared disk rather than this node's page cache.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import mmap
import os
import re
import shutil
import stat
import struct
import time
import zlib
from collections.abc import Callable

from cinder_ocfs2 import executor

MAGIC = b"CO2VRFY1"
HEADER = struct.Struct("<8sQQII")
DEFAULT_BS = 4096
DEFAULT_SIZE = 64 * 1024 * 1024
CHUNK_BLOCKS = 256
MAX_REPORTED = 20
FIO = "fio"

Progress = Callable[[int, int], None]


class VerifyError(Exception):
    """Verification could not run (not a mismatch: those are in the report)."""


@dataclasses.dataclass
class Report:
    engine: str
    path: str
    mode: str  # "write" (write + verify) or "check"
    size: int = 0
    block_size: int = DEFAULT_BS
    written_bytes: int = 0
    read_bytes: int = 0
    write_seconds: float = 0.0
    read_seconds: float = 0.0
    mismatches: int = 0
    bad_blocks: list[dict[str, object]] = dataclasses.field(default_factory=list)
    direct: bool = False

    @property
    def ok(self) -> bool:
        return self.mismatches == 0

    @property
    def write_mib_s(self) -> float:
        return _rate(self.written_bytes, self.write_seconds)

    @property
    def read_mib_s(self) -> float:
        return _rate(self.read_bytes, self.read_seconds)

    def as_dict(self) -> dict[str, object]:
        data = dataclasses.asdict(self)
        data.update(ok=self.ok, write_mib_s=round(self.write_mib_s, 1),
                    read_mib_s=round(self.read_mib_s, 1))
        return data


def _rate(nbytes: int, seconds: float) -> float:
    return nbytes / (1024 * 1024) / seconds if seconds > 0 else 0.0


def parse_size(text: str) -> int:
    """``"64M"`` -> 67108864; suffixes K, M, G, T (powers of 1024), optional ``iB``/``B``."""
    m = re.fullmatch(r"\s*(\d+)\s*([KMGT]?)(?:i?B)?\s*", text, re.IGNORECASE)
    if not m:
        raise ValueError(f"not a size: {text!r} (use e.g. 64M, 1G)")
    return int(m.group(1)) * 1024 ** " KMGT".index(m.group(2).upper() or " ")


# ---------------------------------------------------------------------------
# builtin engine


def make_block(offset: int, seed: int, bs: int = DEFAULT_BS) -> bytes:
    """The expected content of the block at ``offset``."""
    payload = hashlib.shake_128(struct.pack("<QQ", seed, offset)).digest(bs - HEADER.size)
    header = HEADER.pack(MAGIC, offset, seed, 0, 0)
    crc = zlib.crc32(payload, zlib.crc32(header))
    return HEADER.pack(MAGIC, offset, seed, crc, 0) + payload


def check_block(block: bytes, offset: int, seed: int | None) -> str | None:
    """Why ``block`` (read at ``offset``) is wrong, or None when it is right."""
    if len(block) < HEADER.size:
        return "short read"
    magic, got_offset, got_seed, crc, _ = HEADER.unpack_from(block)
    if magic != MAGIC:
        return "bad magic (not written by this verifier, or overwritten)"
    body = HEADER.pack(magic, got_offset, got_seed, 0, 0)
    if zlib.crc32(block[HEADER.size:], zlib.crc32(body)) != crc:
        return "crc32 mismatch (corrupted or torn block)"
    if got_offset != offset:
        return f"misplaced block (header says offset {got_offset})"
    if seed is not None and got_seed != seed:
        return f"stale block from another run (seed {got_seed}, expected {seed})"
    return None


class _File:
    """A file opened for block I/O, with O_DIRECT when the filesystem allows it."""

    def __init__(self, path: str, flags: int, direct: bool, bs: int) -> None:
        self.direct = False
        fd = -1
        if direct and hasattr(os, "O_DIRECT"):
            try:
                fd = os.open(path, flags | os.O_DIRECT, 0o644)
                self.direct = True
            except OSError:
                fd = -1
        if fd < 0:
            fd = os.open(path, flags, 0o644)
        self.fd = fd
        self.buf = mmap.mmap(-1, bs * CHUNK_BLOCKS)  # page aligned, as O_DIRECT needs

    def pwrite(self, data: bytes, offset: int) -> None:
        self.buf[:len(data)] = data
        view = memoryview(self.buf)[:len(data)]
        try:
            written = os.pwritev(self.fd, [view], offset)
        finally:
            view.release()
        if written != len(data):
            raise OSError(f"short write at {offset}: {written} of {len(data)} bytes")

    def pread(self, length: int, offset: int) -> bytes:
        view = memoryview(self.buf)[:length]
        try:
            got = os.preadv(self.fd, [view], offset)
        finally:
            view.release()
        return bytes(self.buf[:got])

    def close(self) -> None:
        self.buf.close()
        os.close(self.fd)


def builtin_write(path: str, size: int, *, bs: int = DEFAULT_BS, seed: int | None = None,
                  direct: bool = True, progress: Progress | None = None) -> tuple[int, Report]:
    """Write the pattern to ``path`` (a temp name, fsync, rename); return (seed, report)."""
    if size % bs or size <= 0:
        raise VerifyError(f"size {size} must be a positive multiple of the block size {bs}")
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        mode = stat.S_IFREG
    if not stat.S_ISREG(mode):
        # the temp file would be renamed over the device node, not written to the device
        raise VerifyError(f"{path} is not a regular file: the builtin engine writes (and "
                          f"renames) regular files only; use the fio engine for a block device")
    seed = seed if seed is not None else int.from_bytes(os.urandom(8), "little") >> 1
    directory, name = os.path.split(os.path.abspath(path))
    tmp = os.path.join(directory, f".tmp-{name}-{os.getpid()}")
    report = Report("builtin", path, "write", size=size, block_size=bs)
    f = _File(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, direct, bs)
    report.direct = f.direct
    t0 = time.monotonic()
    try:
        for start in range(0, size, bs * CHUNK_BLOCKS):
            end = min(size, start + bs * CHUNK_BLOCKS)
            f.pwrite(b"".join(make_block(o, seed, bs) for o in range(start, end, bs)), start)
            report.written_bytes += end - start
            if progress:
                progress(end, size)
        os.fsync(f.fd)
    except BaseException:
        f.close()
        os.unlink(tmp)
        raise
    f.close()
    os.replace(tmp, path)
    report.write_seconds = time.monotonic() - t0
    return seed, report


def builtin_check(path: str, *, bs: int = DEFAULT_BS, seed: int | None = None,
                  size: int | None = None, direct: bool = True,
                  progress: Progress | None = None) -> Report:
    """Read ``path`` back and report every bad block (the first :data:`MAX_REPORTED`).

    Without ``seed``, the seed in block 0's header is expected everywhere.
    """
    try:
        actual = os.stat(path).st_size
    except OSError as exc:
        raise VerifyError(f"cannot check {path}: {exc.strerror}") from exc
    size = actual if size is None else size
    report = Report("builtin", path, "check", size=size, block_size=bs)
    f = _File(path, os.O_RDONLY, direct, bs)
    report.direct = f.direct
    if not f.direct:
        os.posix_fadvise(f.fd, 0, 0, os.POSIX_FADV_DONTNEED)
    t0 = time.monotonic()

    def bad(offset: int, reason: str) -> None:
        report.mismatches += 1
        if len(report.bad_blocks) < MAX_REPORTED:
            report.bad_blocks.append({"offset": offset, "reason": reason})

    try:
        for start in range(0, size, bs * CHUNK_BLOCKS):
            length = min(size, start + bs * CHUNK_BLOCKS) - start
            data = f.pread(length, start)
            report.read_bytes += len(data)
            for off in range(0, length, bs):
                block = data[off:off + bs]
                if seed is None and start + off == 0 and len(block) >= HEADER.size:
                    magic, _, got_seed, _, _ = HEADER.unpack_from(block)
                    if magic == MAGIC:
                        seed = got_seed
                reason = "missing (file too short)" if not block else check_block(
                    block, start + off, seed)
                if reason:
                    bad(start + off, reason)
            if progress:
                progress(start + length, size)
    finally:
        f.close()
    report.read_seconds = time.monotonic() - t0
    if actual < size:
        missing_blocks = (size - max(actual, 0)) // bs
        report.mismatches = max(report.mismatches, missing_blocks)
    return report


# ---------------------------------------------------------------------------
# fio engine


def fio_available() -> bool:
    return shutil.which(FIO) is not None


def fio_argv(path: str, size: int, *, bs: int = DEFAULT_BS, check: bool = False) -> list[str]:
    """The operators' fio job, scaled by ``size``; ``check`` adds ``--verify_only``."""
    argv = [FIO, "--name=cinder-ocfs2-verify", f"--filename={path}", f"--size={size}",
            f"--bs={bs}", "--ioengine=libaio", "--iodepth=32", "--direct=1",
            "--rw=randwrite", "--randrepeat=1", "--verify=crc32c",
            "--continue_on_error=verify", "--verify_state_save=0",
            "--output-format=json"]
    if check:
        argv.append("--verify_only")
    else:
        argv.append("--do_verify=1")
    return argv


@dataclasses.dataclass(frozen=True)
class FioJob:
    name: str
    error: int
    total_err: int
    read_bytes: int
    write_bytes: int
    read_bw_bytes: int
    write_bw_bytes: int
    read_runtime_ms: int
    write_runtime_ms: int


def parse_fio_json(text: str) -> list[FioJob]:
    """Parse ``fio --output-format=json``; tolerates fio's error lines before the JSON.

    (A failing verify prints ``fio: pid=..., err=84/...`` on stdout first.)
    """
    start = next((m.start() for m in re.finditer(r"^\{", text, re.MULTILINE)), None)
    if start is None:
        raise VerifyError(f"fio printed no JSON: {text.strip()[:300]!r}")
    try:
        data = json.loads(text[start:])
    except ValueError as exc:
        raise VerifyError(f"unreadable fio JSON: {exc}") from exc
    jobs = []
    for job in data.get("jobs", []):
        read, write = job.get("read", {}), job.get("write", {})
        jobs.append(FioJob(
            name=job.get("jobname", ""), error=int(job.get("error", 0)),
            total_err=int(job.get("total_err", 0)),
            read_bytes=int(read.get("io_bytes", 0)), write_bytes=int(write.get("io_bytes", 0)),
            read_bw_bytes=int(read.get("bw_bytes", 0)),
            write_bw_bytes=int(write.get("bw_bytes", 0)),
            read_runtime_ms=int(read.get("runtime", 0)),
            write_runtime_ms=int(write.get("runtime", 0))))
    return jobs


_FIO_BAD = re.compile(r"^verify: (?P<reason>.*?) at file .*? offset (?P<offset>\d+), length",
                      re.MULTILINE)


def parse_fio_errors(stderr: str) -> list[dict[str, object]]:
    """``verify: bad magic header 6b57, wanted acca at file F offset 409600, length 4096``
    -> ``[{"offset": 409600, "reason": "bad magic header 6b57, wanted acca"}]``."""
    return [{"offset": int(m.group("offset")), "reason": m.group("reason")}
            for m in _FIO_BAD.finditer(stderr)]


def fio_run(path: str, size: int, *, bs: int = DEFAULT_BS, check: bool = False,
            timeout: float = 3600.0) -> Report:
    result = executor.run(fio_argv(path, size, bs=bs, check=check), timeout=timeout,
                          check=False)
    jobs = parse_fio_json(result.stdout)
    bad = parse_fio_errors(result.stderr)
    report = Report("fio", path, "check" if check else "write", size=size, block_size=bs,
                    direct=True)
    for job in jobs:
        report.written_bytes += job.write_bytes
        report.read_bytes += job.read_bytes
        report.write_seconds += job.write_runtime_ms / 1000
        report.read_seconds += job.read_runtime_ms / 1000
        if job.error:
            report.mismatches += max(job.total_err, 1, len(bad))
    if result.returncode != 0 and not report.mismatches:
        raise VerifyError(f"fio failed (exit {result.returncode}): "
                          f"{result.stderr.strip()[-500:]}")
    report.bad_blocks = bad[:MAX_REPORTED]
    return report
