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
"""Build (or reuse) the node image: a debootstrapped Debian bookworm root.

The image is cached under ``CACHE_DIR/<hash>/``, keyed by a hash of the
recipe below (packages, pip requirements, the baked PID 1 stub). The
project's code is *not* baked in: it reaches the nodes through a 9p share, so
a code change never forces a rebuild. Everything else the guest runs at boot
(``lab/guest/init.sh``, ``lab/guest/agent.py``) is read from that share too.

``LAB_COMPUTE=1`` (``config.COMPUTE``; e2e sets it with ``E2E_NOVA=1``) builds
the compute variant: the same image plus libvirt, qemu and a second venv with
nova-compute (:data:`COMPUTE_PACKAGES`, :data:`COMPUTE_SETUP`). Only then do
they enter the recipe, so the default image and its hash stay what they were.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lab import config

SUITE = "bookworm"
MIRROR = os.environ.get("LAB_DEBIAN_MIRROR", "http://deb.debian.org/debian")
PACKAGES = (
    "linux-image-amd64",
    "initramfs-tools",
    "ocfs2-tools",
    "python3",
    "python3-venv",
    "ca-certificates",
    "fio",
    "qemu-utils",
    "kmod",
    "iproute2",
    "util-linux",
    "procps",
    "e2fsprogs",
    "tini",
    "sudo",
    "psmisc",
    "less",
)
PIP_REQUIREMENTS = ("cinder>=29,<30", "psycopg2-binary", "PyMySQL", "glance")
ROOT_SIZE = "6G"

# The compute variant (config.COMPUTE). libvirt-daemon-system brings the stock
# configuration and users (libvirt-qemu, groups libvirt and kvm). It is installed
# by apt inside the chroot, not by debootstrap: debootstrap's resolver takes the
# first alternative of each dependency and leaves polkitd and systemd-container
# unconfigured (no logind, no dbus). apt pulls them in properly; systemd comes
# along, unused (PID 1 is the stub below), and policy-rc.d keeps every service
# from starting in the chroot. dosfstools: nova's vfat config drive
# (``mkfs -t vfat``), the one the tiny guest can read (virtio-blk only; no
# iso9660 drive, no genisoimage).
COMPUTE_PACKAGES = (
    "qemu-system-x86",
    "libvirt-daemon-system",
    "libvirt-daemon-driver-qemu",
    "libvirt-clients",
    "python3-libvirt",
    "dosfstools",
)
#: OpenStack 2026.2 "Hibiscus", the release of Cinder 29; e2e.nova pins the
#: host side's nova to the same requirement.
NOVA_REQUIREMENT = "nova==34.0.0"
# --system-site-packages: libvirt's Python binding is Debian's python3-libvirt.
COMPUTE_SETUP = f"""printf '#!/bin/sh\\nexit 101\\n' >/usr/sbin/policy-rc.d
chmod 755 /usr/sbin/policy-rc.d
apt-get update -q
apt-get install -y -q --no-install-recommends {' '.join(COMPUTE_PACKAGES)}
rm -f /usr/sbin/policy-rc.d
python3 -m venv --system-site-packages {config.GUEST_NOVA_VENV}
{config.GUEST_NOVA_VENV}/bin/pip install --no-cache-dir -q {NOVA_REQUIREMENT!r}
"""

# PID 1 as baked into the image. It only mounts the repo share and hands over
# to lab/guest/init.sh from the share, so boot logic can change freely.
STUB_INIT = f"""#!/bin/sh
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
modprobe 9pnet_virtio
modprobe 9p
mkdir -p {config.GUEST_SRC}
if mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,ro src {config.GUEST_SRC}; then
    exec /bin/sh {config.GUEST_SRC}/lab/guest/init.sh
fi
echo "lab-init: cannot mount the src share; dropping to a shell" >/dev/console
exec /bin/sh </dev/console >/dev/console 2>&1
"""

_VENV_SETUP = f"""set -e
python3 -m venv {config.GUEST_VENV}
{config.GUEST_VENV}/bin/pip install --no-cache-dir -q {' '.join(repr(r) for r in PIP_REQUIREMENTS)}
"""
_CLEANUP = """apt-get clean
rm -rf /var/lib/apt/lists/*
"""
CHROOT_SETUP = _VENV_SETUP + _CLEANUP


def packages() -> tuple[str, ...]:
    """What debootstrap installs (the compute variant's packages come from apt)."""
    return PACKAGES


def chroot_setup() -> str:
    """The script run in the chroot: the venv(s), then the apt cleanup."""
    return _VENV_SETUP + COMPUTE_SETUP + _CLEANUP if config.COMPUTE else CHROOT_SETUP


def variant() -> str:
    """``compute`` or ``default``: which image :func:`current` is."""
    return "compute" if config.COMPUTE else "default"


@dataclass(frozen=True)
class Image:
    """The cached artefacts a node boots from."""

    dir: Path

    @property
    def root(self) -> Path:
        return self.dir / "root.img"

    @property
    def kernel(self) -> Path:
        return self.dir / "vmlinuz"

    @property
    def initrd(self) -> Path:
        return self.dir / "initrd.img"

    def exists(self) -> bool:
        return (self.dir / "READY").exists()


def recipe_hash() -> str:
    recipe = {
        "suite": SUITE,
        "packages": PACKAGES,
        "pip": PIP_REQUIREMENTS,
        "stub_init": STUB_INIT,
        "chroot_setup": CHROOT_SETUP,
        "root_size": ROOT_SIZE,
        "version": 1,
    }
    if config.COMPUTE:  # only then: the default recipe (and hash) is unchanged
        recipe["compute"] = {"packages": COMPUTE_PACKAGES, "setup": COMPUTE_SETUP}
    blob = json.dumps(recipe, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def current() -> Image:
    return Image(config.CACHE_DIR / recipe_hash())


def _run(cmd: list[str], log: Path, **kw: object) -> None:
    with log.open("ab") as out:
        out.write(f"\n$ {' '.join(map(str, cmd))}\n".encode())
        out.flush()
        proc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, **kw)  # type: ignore
    if proc.returncode:
        raise RuntimeError(f"image build step failed (rc={proc.returncode}): {cmd}; see {log}")


def _chroot_env() -> dict[str, str]:
    env = {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": "/root",
        "LANG": "C.UTF-8",
        "DEBIAN_FRONTEND": "noninteractive",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    for key in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_DEFAULT_TIMEOUT",
                "http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "no_proxy"):
        if key in os.environ:
            env[key] = os.environ[key]
    return env


def _populate(rootfs: Path, log: Path) -> None:
    """Install the venv and the PID 1 stub into a debootstrapped rootfs."""
    shutil.copy("/etc/resolv.conf", rootfs / "etc/resolv.conf")
    env = _chroot_env()
    # Use the host's CA bundle, so pip works behind a TLS-inspecting proxy too.
    host_ca = Path(os.environ.get("PIP_CERT", "/etc/ssl/certs/ca-certificates.crt"))
    if host_ca.is_file():
        shutil.copy(host_ca, rootfs / "tmp/host-ca.crt")
        env["PIP_CERT"] = "/tmp/host-ca.crt"
    (rootfs / "proc").mkdir(exist_ok=True)
    _run(["mount", "-t", "proc", "proc", str(rootfs / "proc")], log)
    try:
        _run(["chroot", str(rootfs), "/bin/sh", "-c", chroot_setup()], log, env=env)
    finally:
        subprocess.run(["umount", "-l", str(rootfs / "proc")], check=False)
    (rootfs / "etc/resolv.conf").write_text("")
    (rootfs / "tmp/host-ca.crt").unlink(missing_ok=True)
    stub = rootfs / "usr/local/sbin/lab-init"
    stub.write_text(STUB_INIT)
    stub.chmod(0o755)
    (rootfs / "etc/hostname").write_text("node\n")
    (rootfs / "etc/fstab").write_text("# the lab's init mounts everything\n")


def _safe_rmtree(path: Path) -> None:
    """rmtree that first detaches anything still mounted below ``path``."""
    with open("/proc/mounts") as f:
        mounts = [line.split()[1] for line in f]
    for mnt in sorted(mounts, reverse=True):
        if mnt.startswith(str(path) + "/"):
            subprocess.run(["umount", "-l", mnt], check=False)
    shutil.rmtree(path, ignore_errors=True)


def _variant_of(entry: Path) -> str:
    """The variant a built image was made as (images from before variants: default)."""
    try:
        return json.loads((entry / "READY").read_text()).get("variant", "default")
    except (OSError, ValueError, AttributeError):
        return "default"


def _prune(keep: Path) -> None:
    """Delete images of older recipes (each is a few GB) that no running qemu uses.

    Only those of ``keep``'s variant: switching LAB_COMPUTE on and off does not
    rebuild the other variant's image each time.
    """
    kind = _variant_of(keep)
    in_use = b""
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            in_use += cmdline.read_bytes() + b"\n"
        except OSError:
            pass
    for entry in config.CACHE_DIR.iterdir():
        if entry == keep or not (entry / "READY").exists() or _variant_of(entry) != kind:
            continue
        if str(entry).encode() in in_use:  # a running node boots from it
            continue
        _safe_rmtree(entry)


def build(force: bool = False, say: Callable[[str], None] = print) -> Image:
    """Return the cached image, building it first if the recipe changed."""
    image = current()
    if image.exists() and not force:
        return image
    config.CACHE_DIR.mkdir(parents=True, exist_ok=True)
    work = config.CACHE_DIR / f"{image.dir.name}.build-{os.getpid()}"
    _safe_rmtree(work)
    rootfs = work / "rootfs"
    work.mkdir(parents=True)
    log = work / "build.log"
    t0 = time.monotonic()
    say(f"lab: building node image {image.dir.name}"
        f"{' (compute: libvirt, qemu, nova-compute)' if config.COMPUTE else ''} (log: {log})")
    _run(["debootstrap", "--variant=minbase", f"--include={','.join(packages())}",
          SUITE, str(rootfs), MIRROR], log)
    say(f"lab: debootstrap done in {time.monotonic() - t0:.0f}s; installing the venv")
    _populate(rootfs, log)
    boot = rootfs / "boot"
    kernels = sorted(boot.glob("vmlinuz-*"))
    initrds = sorted(boot.glob("initrd.img-*"))
    if not kernels or not initrds:
        raise RuntimeError(f"no kernel/initrd in {boot}")
    shutil.copy(kernels[-1], work / "vmlinuz")
    shutil.copy(initrds[-1], work / "initrd.img")
    _run(["mkfs.ext4", "-q", "-F", "-L", "labroot", "-d", str(rootfs),
          str(work / "root.img"), ROOT_SIZE], log)
    _safe_rmtree(rootfs)
    ready: dict[str, object] = {"built_s": round(time.monotonic() - t0)}
    if config.COMPUTE:
        ready["variant"] = variant()
    (work / "READY").write_text(json.dumps(ready))
    shutil.rmtree(image.dir, ignore_errors=True)
    work.rename(image.dir)
    _prune(keep=image.dir)
    say(f"lab: image built in {time.monotonic() - t0:.0f}s")
    return image
