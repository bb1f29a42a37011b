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
"""The tiny guest: a bootable raw image that checks the data on its volumes.

For Nova instances on our volumes inside the lab's TCG VMs (so the guest is
emulated twice): Debian 12's cloud kernel, a busybox initramfs whose PID 1 is
``e2e/guest/init``, syslinux on one FAT partition labelled ``TINYGUEST``.
Built from Debian packages only (``apt-get download``), without loop mounts::

    python -m e2e.guest_image build [--out DIR]          # -> DIR/tiny-guest.raw
    python -m e2e.guest_image boot IMAGE [--disk FILE[:SERIAL]] ... [--seconds N]

Console protocol
----------------
Everything the guest has to say is one line on the serial console (ttyS0)::

    TINYGUEST <event> key=value key=value ...

``boot``  uptime= (seconds since boot), bootdev=, owner= (the DMI product
UUID: Nova's instance UUID), config= (config drive device or ``none``), and
the settings. ``disk``  dev=, sectors= (512-byte), serial= (``/sys/block/<dev>/
serial``: for a Cinder volume the first 20 characters of its id; ``-`` when
none), role= (``boot``, ``config``, ``blank``, ``foreign``, ``unreadable``,
``data``, ``log``), origin=. ``gone``  dev=, serial= (hot-unplugged).
``wrote`` / ``verified``  dev=, serial=, origin=, gen=, mib=, sha256=, secs=;
``verified`` has ok=1, or ok=0 with bad_offset= (the first bad byte on the
disk, or ``header``). ``log-start`` next=; ``log`` seq= (the last record
written and flushed, every ``log_report`` seconds); ``log-verified`` records=,
ok=, bad_seq=; ``log-follow`` seq=, ok= (a log another guest writes: when it
grew, else once a minute);
``log-full``, ``log-error``, ``write-error``.

The disks are polled (``/sys/block/vd*``, ``sd*``) every ``poll`` seconds, so
volumes attached or detached after boot are seen; a disk is new when its name,
serial, size or sysfs inode changed. The boot disk (the one whose partition has
the FAT label ``TINYGUEST``) and a config drive (label ``config-2``) are never
touched.

On-disk protocol
----------------
Block 0 (4 KiB) of a volume is the header, text padded with NULs::

    TINYGUEST-DISK v1
    role=data|log
    origin=<serial of the volume it was first written on>
    gen=<generation>   mib=<data size>   sha256=<of the data>   owner=<guest uuid>

Data and log records start at 1 MiB. Every record is 4 KiB: 64 lines of 63
characters and a newline; line 0 ``<MAGIC> n=%010d g=%06d o=%-20s`` (magic,
number, generation, origin), lines 1-62 four 15-digit numbers each (``n*248
+ 4*(line-1) + j``: a position-unique pattern), line 63 ``TGSUM %015d`` (a
checksum over the numbers, :func:`record`).

What the guest does with an extra disk, without any input after boot:

* **blank** (block 0 all zeros): with ``blank=write`` (default) writes
  ``mib`` MiB of ``TGDAT`` records (n = 0..), gen 1, origin = its serial,
  O_DIRECT + fsync, then the header: ``wrote``. ``blank=log`` starts a log
  instead; ``blank=ignore`` only reports it and looks again each poll (a
  multiattach reader must not write a blank volume it shares).
* **role=data**: re-generates the pattern, compares, ``verified`` ok=1/0.
  A volume cloned from it (snapshot, clone, backup restore) verifies too: the
  pattern follows the header's origin, not the serial. ``rewrite=1`` then
  writes gen+1 (only on disks this guest owns).
* **role=log**: checks every ``TGLOG`` record (n = 1..) up to the first
  block that is not one (``log-verified``); then the owner (header
  ``owner`` = this guest's UUID, which survives reboot and live migration)
  appends records from the next number, one per ``log_interval`` seconds,
  each O_DIRECT + fsync (``log``); any other guest follows it read-only
  (``log-follow``). A torn or foreign record is ``ok=0`` and nothing more is
  written.
* A header without ``origin=`` is a request written on the host before the
  attach (:func:`request_header`): ``role=data`` (optionally ``mib=``) is
  written like a blank disk, ``role=log`` becomes a new log owned by the first
  guest that sees it.
* Anything else is ``foreign`` and left alone.

Settings (``tinyguest.KEY=VALUE`` words on the kernel command line or in the
user data of a vfat config drive, Nova's ``config_drive_format=vfat``): mib,
blank, readonly (1: never write), rewrite, poll, log_interval, log_report.

Multiattach: attach to the writer first and wait for its ``wrote`` or
``log-start`` before attaching the reader, or boot the reader with
``tinyguest.readonly=1``.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid as uuidlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
GUEST_DIR = HERE / "guest"
IMAGE_NAME = "tiny-guest.raw"
DEFAULT_OUT = Path(os.environ.get("TINY_GUEST_DIR", Path.home() / ".cache" / "cinder-ocfs2-guest"))

KERNEL_PACKAGE = "linux-image-cloud-amd64"  # LZ4 kernel, few built-in drivers: quick under TCG
GUEST_PACKAGES = ("busybox-static",)
HOST_TOOLS = {  # binary -> Debian package
    "syslinux": "syslinux",
    "mcopy": "mtools",
    "mkfs.vfat": "dosfstools",
    "qemu-system-x86_64": "qemu-system-x86",
}
SYSLINUX_DIR = Path("/usr/lib/syslinux")  # syslinux-common: mbr/mbr.bin
LABEL = "TINYGUEST"
BOOT_MODULES = ("virtio_pci", "virtio_blk")  # loaded at boot, with their dependencies
LAZY_MODULES = ("vfat", "nls_cp437", "nls_ascii")  # for a vfat config drive
CMDLINE = "console=ttyS0,115200 quiet panic=-1"
PART_START = 2048  # sectors: the FAT partition at 1 MiB

HEADER_MAGIC = "TINYGUEST-DISK v1"
DATA_OFFSET = 1 << 20
RECORD = 4096
_MOD = 10**15


# --- console events ------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    """One ``TINYGUEST <kind> k=v ...`` line of the console."""

    kind: str
    fields: dict[str, str] = field(default_factory=dict)
    line: int = 0  # 1-based line number in the console text

    def get(self, key: str, default: str = "") -> str:
        return self.fields.get(key, default)

    def int(self, key: str) -> int:
        return int(self.fields[key])

    @property
    def dev(self) -> str:
        return self.get("dev")

    @property
    def serial(self) -> str:
        return self.get("serial")

    @property
    def ok(self) -> bool:
        return self.get("ok") == "1"


_EVENT = re.compile(r"TINYGUEST ([a-z][a-z0-9-]*)((?: [a-z0-9_]+=\S*)*)")


def parse_console(text: str) -> list[Event]:
    """The guest's events in console text, in order.

    Tolerates CRs, kernel messages in between and a line cut at the end
    (the event is kept with the fields seen)::

        TINYGUEST boot uptime=1.92 kernel=6.1.0-57-cloud-amd64 bootdev=vda ...
        TINYGUEST disk dev=vdb sectors=16384 serial=vol-a role=blank
        TINYGUEST wrote dev=vdb serial=vol-a origin=vol-a gen=1 mib=4 sha256=... secs=2.10
    """
    events = []
    for no, raw in enumerate(text.splitlines(), 1):
        m = _EVENT.search(raw.replace("\r", ""))
        if not m:
            continue
        fields = dict(w.split("=", 1) for w in m.group(2).split())
        events.append(Event(m.group(1), fields, no))
    return events


# --- the on-disk formats, host side --------------------------------------------


def record(magic: str, n: int, gen: int, origin: str) -> bytes:
    """One 4 KiB record exactly as the guest's ``gen_records`` writes it."""
    lines = [f"{f'{magic} n={n:010d} g={gen:06d} o={origin:<20}':<63}"]
    s = (n * 7 + gen) % _MOD
    for line in range(62):
        b = n * 248 + line * 4
        lines.append(f"{b:015d} {b + 1:015d} {b + 2:015d} {b + 3:015d}")
        s = (s + 4 * b + 6) % _MOD
    lines.append(f"{f'TGSUM {s:015d}':<63}")
    return "".join(x + "\n" for x in lines).encode()


def data_pattern(origin: str, gen: int, mib: int) -> bytes:
    return b"".join(record("TGDAT", n, gen, origin) for n in range(mib * 256))


def parse_header(block: bytes) -> dict[str, str] | None:
    """The header's fields, or None when block 0 is not ours (blank, foreign)."""
    text = block[:RECORD].rstrip(b"\0").decode(errors="replace")
    lines = text.split("\n")
    if lines[0] != HEADER_MAGIC:
        return None
    return dict(x.split("=", 1) for x in lines[1:] if "=" in x)


def request_header(role: str, mib: int | None = None) -> bytes:
    """Block 0 a test writes on a volume before attaching it: the guest makes it a
    data disk (of ``mib`` MiB) or a log it owns (``role='log'``)."""
    if role not in ("data", "log"):
        raise ValueError(f"role {role!r}")
    text = f"{HEADER_MAGIC}\nrole={role}\n" + (f"mib={mib}\n" if mib else "")
    return text.encode().ljust(RECORD, b"\0")


@dataclass(frozen=True)
class LogCheck:
    origin: str
    records: int  # intact records 1..records
    bad_seq: int  # first record that is wrong (0: none)


def check_log(path: Path) -> LogCheck:
    """Checks a log volume (or a copy, e.g. a snapshot) the way the guest does."""
    with open(path, "rb") as f:
        hdr = parse_header(f.read(RECORD))
        if not hdr or hdr.get("role") != "log":
            raise ValueError(f"{path}: not a tiny-guest log")
        origin = hdr.get("origin", "")
        f.seek(DATA_OFFSET)
        n = 0
        while True:
            block = f.read(RECORD)
            if not block.startswith(b"TGLOG "):
                return LogCheck(origin, n, 0)
            if block != record("TGLOG", n + 1, 0, origin):
                return LogCheck(origin, n, n + 1)
            n += 1


def check_data(path: Path) -> bool:
    """True if a data volume holds the pattern its header describes."""
    with open(path, "rb") as f:
        hdr = parse_header(f.read(RECORD))
        if not hdr or hdr.get("role") != "data" or not hdr.get("origin"):
            return False
        want = data_pattern(hdr["origin"], int(hdr["gen"]), int(hdr["mib"]))
        f.seek(DATA_OFFSET)
        got = f.read(len(want))
    return got == want and hashlib.sha256(got).hexdigest() == hdr.get("sha256")


# --- building ------------------------------------------------------------------


def _run(argv: Sequence[str], **kw) -> subprocess.CompletedProcess:
    r = subprocess.run(list(argv), text=True, capture_output=True, **kw)
    if r.returncode:
        raise subprocess.CalledProcessError(r.returncode, r.args, r.stdout, r.stderr)
    return r


def _ensure_host_tools() -> None:
    missing = sorted({pkg for tool, pkg in HOST_TOOLS.items() if not shutil.which(tool)})
    if not (SYSLINUX_DIR / "mbr" / "mbr.bin").exists():
        missing.append("syslinux-common")
    if missing:
        _apt(["apt-get", "install", "-y", "--no-install-recommends", *missing])


def _apt(argv: list[str], cwd: Path | None = None) -> str:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        return _run(argv, env=env, cwd=cwd).stdout
    except subprocess.CalledProcessError:
        _run(["apt-get", "update"], env=env)  # a fresh machine has no lists yet
        return _run(argv, env=env, cwd=cwd).stdout


def _resolve_packages() -> dict[str, str]:
    """Package name -> candidate version, the kernel meta package resolved."""
    out = _apt(["apt-cache", "depends", KERNEL_PACKAGE])
    m = re.search(r"Depends: (linux-image-\S+)", out)
    if not m:
        raise RuntimeError(f"cannot resolve {KERNEL_PACKAGE}: {out}")
    names = [m.group(1), *GUEST_PACKAGES]
    policy = _run(["apt-cache", "policy", *names]).stdout
    versions = dict(re.findall(r"^(\S+):\n(?:.*\n)*?\s+Candidate: (\S+)", policy, re.M))
    if set(versions) != set(names) or "(none)" in versions.values():
        raise RuntimeError(f"no candidates for {names}: {policy}")
    return versions


def _recipe(packages: dict[str, str]) -> str:
    h = hashlib.sha256()
    for p in sorted(GUEST_DIR.iterdir()):
        h.update(p.name.encode() + b"\0" + p.read_bytes())
    spec = [packages, BOOT_MODULES, LAZY_MODULES, CMDLINE, _syslinux_cfg(), PART_START]
    h.update(json.dumps(spec, sort_keys=True).encode())
    return h.hexdigest()[:16]


def _syslinux_cfg() -> str:
    return (
        "SERIAL 0 115200\nPROMPT 0\nTIMEOUT 0\nDEFAULT tinyguest\n"
        f"LABEL tinyguest\n  KERNEL /vmlinuz\n  INITRD /initrd.gz\n  APPEND {CMDLINE}\n"
    )


def _module_deps(ko: Path) -> list[str]:
    data = ko.read_bytes()
    m = re.search(rb"\0depends=([^\0]*)\0", data)
    return [d for d in (m.group(1).decode().split(",") if m else []) if d]


def _modules(moddir: Path, wanted: Sequence[str]) -> list[tuple[str, Path]]:
    """The modules and their dependencies, dependencies first."""
    by_name = {p.name[: -len(".ko")].replace("-", "_"): p for p in moddir.rglob("*.ko")}
    order: list[tuple[str, Path]] = []

    def add(name: str) -> None:
        name = name.replace("-", "_")
        if any(n == name for n, _ in order):
            return
        if name not in by_name:
            raise RuntimeError(f"module {name} not in {moddir}")
        for dep in _module_deps(by_name[name]):
            add(dep)
        order.append((name, by_name[name]))

    for w in wanted:
        add(w)
    return order


class _Cpio:
    """A newc archive (what the kernel unpacks as initramfs)."""

    def __init__(self) -> None:
        self.buf = io.BytesIO()
        self.ino = 1

    def add(self, name: str, mode: int, data: bytes = b"", rdev: tuple[int, int] = (0, 0)) -> None:
        nb = name.encode() + b"\0"
        fields = [self.ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(nb), 0]
        self.ino += 1
        self.buf.write(b"070701" + b"".join(b"%08X" % x for x in fields) + nb)
        self.buf.write(b"\0" * (-(110 + len(nb)) % 4) + data + b"\0" * (-len(data) % 4))

    def close(self) -> bytes:
        self.add("TRAILER!!!", 0)
        return self.buf.getvalue()


def _initramfs(root: Path, moddir: Path) -> tuple[bytes, list[str]]:
    busybox = root / "bin" / "busybox"
    applets = _run([str(busybox), "--list"]).stdout.split()
    boot = _modules(moddir, BOOT_MODULES)
    lazy = [m for m in _modules(moddir, LAZY_MODULES) if m not in boot]
    c = _Cpio()
    for d in ("bin", "dev", "etc", "etc/tinyguest", "lib", "lib/modules", "mnt", "proc",
              "sys", "tmp"):
        c.add(d, 0o40755)
    c.add("dev/console", 0o20600, rdev=(5, 1))
    c.add("bin/busybox", 0o100755, busybox.read_bytes())
    for a in applets:
        if a != "busybox":
            c.add(f"bin/{a}", 0o120777, b"busybox")
    for name, ko in boot + lazy:
        c.add(f"lib/modules/{name}.ko", 0o100644, ko.read_bytes())
    c.add("etc/tinyguest/modules", 0o100644, "".join(f"{n}\n" for n, _ in boot).encode())
    c.add("etc/tinyguest/checklog.awk", 0o100644, (GUEST_DIR / "checklog.awk").read_bytes())
    c.add("init", 0o100755, (GUEST_DIR / "init").read_bytes())
    return gzip.compress(c.close(), 9, mtime=0), [n for n, _ in boot + lazy]


def _mbr(boot_code: bytes, part_sectors: int) -> bytes:
    entry = (
        bytes([0x80, 0xFE, 0xFF, 0xFF, 0x0E, 0xFE, 0xFF, 0xFF])
        + PART_START.to_bytes(4, "little")
        + part_sectors.to_bytes(4, "little")
    )
    mbr = boot_code[:440].ljust(440, b"\0") + b"TGST" + b"\0\0" + entry + b"\0" * 48 + b"\x55\xaa"
    assert len(mbr) == 512
    return mbr


def build(out_dir: Path = DEFAULT_OUT, force: bool = False) -> Path:
    """Builds ``out_dir/tiny-guest.raw`` unless it is there for the same recipe."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    image = out_dir / IMAGE_NAME
    stamp = out_dir / (IMAGE_NAME + ".recipe")
    packages = _resolve_packages()
    recipe = _recipe(packages)
    if not force and image.exists() and stamp.exists() and stamp.read_text().strip() == recipe:
        return image
    _ensure_host_tools()
    debs = out_dir / "debs"
    debs.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir, prefix="build.") as tmp:
        work = Path(tmp)
        root = work / "root"
        for name, version in packages.items():
            found = list(debs.glob(f"{name}_*.deb"))
            want = [p for p in found if _run(["dpkg-deb", "-f", str(p), "Version"]).stdout.strip()
                    == version]
            if not want:
                for p in found:
                    p.unlink()
                os.chmod(debs, 0o755)
                _apt(["apt-get", "download", f"{name}={version}"], cwd=debs)
                want = list(debs.glob(f"{name}_*.deb"))
            _run(["dpkg-deb", "-x", str(want[0]), str(root)])
        kernels = sorted((root / "boot").glob("vmlinuz-*"))
        moddirs = sorted((root / "lib" / "modules").iterdir())
        initrd, mods = _initramfs(root, moddirs[-1])
        (work / "initrd.gz").write_bytes(initrd)
        (work / "syslinux.cfg").write_text(_syslinux_cfg())
        shutil.copy(kernels[-1], work / "vmlinuz")
        payload = sum((work / n).stat().st_size for n in ("vmlinuz", "initrd.gz"))
        part_mib = payload // (1 << 20) + 2  # room for ldlinux and the FAT itself
        part = work / "part.img"
        _run(["mkfs.vfat", "-n", LABEL, "-h", str(PART_START), "-C", str(part),
              str(part_mib * 1024)])
        _run(["syslinux", "--install", str(part)])
        for n in ("syslinux.cfg", "vmlinuz", "initrd.gz"):
            _run(["mcopy", "-i", str(part), str(work / n), f"::/{n}"])
        raw = work / IMAGE_NAME
        with open(raw, "wb") as f:
            boot_code = (SYSLINUX_DIR / "mbr" / "mbr.bin").read_bytes()
            f.write(_mbr(boot_code, part_mib * 2048))
            f.seek(PART_START * 512)
            with open(part, "rb") as p:
                shutil.copyfileobj(p, f)
        os.replace(raw, image)
        stamp.write_text(recipe + "\n")
        (out_dir / (IMAGE_NAME + ".json")).write_text(json.dumps({
            "recipe": recipe, "packages": packages, "modules": mods,
            "kernel_bytes": (work / "vmlinuz").stat().st_size, "initrd_bytes": len(initrd),
            "image_bytes": image.stat().st_size, "cmdline": CMDLINE,
        }, indent=2) + "\n")
    return image


# --- booting on the host (trying it out, the lab test) -----------------------------


@dataclass(frozen=True)
class Disk:
    path: Path
    serial: str = ""  # like Nova: the first 20 characters of the volume id
    shared: bool = False  # multiattach: libvirt's <shareable/> is qemu's share-rw=on


def config_drive(path: Path, user_data: str) -> Path:
    """A vfat config drive (label config-2) with ``openstack/latest/user_data``."""
    _ensure_host_tools()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    _run(["mkfs.vfat", "-n", "config-2", "-C", str(path), "2048"])
    ud = path.with_suffix(".user_data")
    ud.write_text(user_data)
    _run(["mmd", "-i", str(path), "::/openstack", "::/openstack/latest"])
    _run(["mcopy", "-i", str(path), str(ud), "::/openstack/latest/user_data"])
    ud.unlink()
    return path


class Guest:
    """The image booted with host qemu (TCG), virtio-blk disks with serials as Nova
    sets them, the console in a file, QMP for hot-plug."""

    def __init__(self, image: Path, workdir: Path, disks: Sequence[Disk] = (),
                 memory_mib: int = 128, uuid: str | None = None, cache: str = "writeback",
                 nice: int = 10) -> None:
        self.image, self.workdir, self.disks = Path(image), Path(workdir), list(disks)
        self.memory_mib, self.cache, self.nice = memory_mib, cache, nice
        self.uuid = uuid or str(uuidlib.uuid4())
        self.console = self.workdir / "console.log"
        self.qmp_path = self.workdir / "qmp.sock"
        self.proc: subprocess.Popen | None = None
        self.started = 0.0
        self._slot = 0

    def _disk_args(self, disk: Disk, readonly: bool = False) -> list[str]:
        i = self._slot
        self._slot += 1
        drive = f"file={disk.path},format=raw,if=none,id=drive-virtio-disk{i},cache={self.cache}"
        dev = f"virtio-blk-pci,drive=drive-virtio-disk{i},id=virtio-disk{i}"
        if readonly:
            drive += ",snapshot=on"
            dev += ",bootindex=1"
        if disk.serial:
            dev += f",serial={disk.serial}"
        if disk.shared:
            dev += ",share-rw=on"
        return ["-drive", drive, "-device", dev]

    def argv(self) -> list[str]:
        argv = ["nice", "-n", str(self.nice), "qemu-system-x86_64", "-machine", "pc,accel=tcg",
                "-m", str(self.memory_mib), "-smp", "1", "-nodefaults", "-no-user-config",
                "-display", "none", "-no-reboot", "-uuid", self.uuid,
                "-chardev", f"file,id=con,path={self.console}", "-serial", "chardev:con",
                "-qmp", f"unix:{self.qmp_path},server=on,wait=off"]
        self._slot = 0
        argv += self._disk_args(Disk(self.image), readonly=True)
        for d in self.disks:
            argv += self._disk_args(d)
        return argv

    def start(self) -> Guest:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.console.write_text("")
        self.qmp_path.unlink(missing_ok=True)
        self.started = time.monotonic()
        self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL,
                                     stdout=open(self.workdir / "qemu.log", "w"),
                                     stderr=subprocess.STDOUT)
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> Guest:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def events(self) -> list[Event]:
        return parse_console(self.console.read_text(errors="replace"))

    def wait_for(self, pred: Callable[[Event], bool], timeout: float = 300,
                 after: int = 0) -> Event:
        """The first event (past console line ``after``) matching ``pred``."""
        deadline = time.monotonic() + timeout
        while True:
            for e in self.events():
                if e.line > after and pred(e):
                    return e
            if self.proc and self.proc.poll() is not None:
                raise RuntimeError(f"qemu exited {self.proc.returncode}: "
                                   f"{(self.workdir / 'qemu.log').read_text()[-2000:]}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"no such event in {timeout}s; console:\n"
                                   + self.console.read_text(errors="replace")[-3000:])
            time.sleep(0.5)

    def _qmp(self, *commands: dict) -> list[dict]:
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(str(self.qmp_path))
            f = s.makefile("rw")
            json.loads(f.readline())
            out = []
            for cmd in ({"execute": "qmp_capabilities"}, *commands):
                f.write(json.dumps(cmd) + "\n")
                f.flush()
                while True:
                    r = json.loads(f.readline())
                    if "return" in r or "error" in r:
                        break
                if "error" in r:
                    raise RuntimeError(f"QMP {cmd}: {r['error']}")
                out.append(r["return"])
            return out[1:]

    def attach(self, disk: Disk, name: str) -> None:
        """Hot-plugs a virtio-blk disk, the way Nova attaches a volume."""
        hmp = f"drive_add 0 file={disk.path},format=raw,if=none,id=drive-{name},cache={self.cache}"
        dev = {"driver": "virtio-blk-pci", "drive": f"drive-{name}", "id": name}
        if disk.serial:
            dev["serial"] = disk.serial
        self._qmp({"execute": "human-monitor-command", "arguments": {"command-line": hmp}},
                  {"execute": "device_add", "arguments": dev})

    def detach(self, name: str) -> None:
        self._qmp({"execute": "device_del", "arguments": {"id": name}})


# --- CLI -----------------------------------------------------------------------------


CLI_UUID = "7e570000-0000-4000-8000-000000000001"


def _disk_arg(text: str) -> Disk:
    path, _, serial = text.partition(":")
    return Disk(Path(path), serial or Path(path).stem[:20])


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m e2e.guest_image",
                                description=(__doc__ or "").split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="build (or reuse) tiny-guest.raw")
    b.add_argument("--out", type=Path, default=DEFAULT_OUT)
    b.add_argument("--force", action="store_true")
    r = sub.add_parser("boot", help="boot an image with host qemu (TCG), print its events")
    r.add_argument("image", type=Path)
    r.add_argument("--disk", type=_disk_arg, action="append", default=[],
                   help="FILE[:SERIAL] (serial defaults to the file's stem)")
    r.add_argument("--user-data", help="tinyguest.KEY=VALUE words for a vfat config drive")
    r.add_argument("--seconds", type=float, default=60, help="power off after this long")
    r.add_argument("--workdir", type=Path, help="console.log etc. (default: a temp dir)")
    r.add_argument("--uuid", default=CLI_UUID,
                   help="the instance UUID (a log's owner); the same on every boot by default")
    args = p.parse_args(argv)
    if args.cmd == "build":
        print(build(args.out, args.force))
        return 0
    with contextlib.ExitStack() as stack:
        workdir = args.workdir or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        disks = list(args.disk)
        if args.user_data:
            disks.append(Disk(config_drive(workdir / "config-2.img", args.user_data)))
        guest = stack.enter_context(Guest(args.image, workdir, disks, uuid=args.uuid))
        for e in _follow(guest, args.seconds):
            print(f"{time.monotonic() - guest.started:7.2f}s {e.kind} "
                  + " ".join(f"{k}={v}" for k, v in e.fields.items()), flush=True)
    return 0


def cli() -> int:
    try:
        return main()
    except subprocess.CalledProcessError as e:
        print(f"--> {e.cmd}: exit {e.returncode}\n{e.stderr}", file=sys.stderr)
        return 1


def _follow(guest: Guest, seconds: float) -> Iterator[Event]:
    seen = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and guest.proc and guest.proc.poll() is None:
        for e in guest.events()[seen:]:
            seen += 1
            yield e
        time.sleep(0.5)


if __name__ == "__main__":
    sys.exit(cli())
