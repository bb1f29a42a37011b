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
"""The tiny guest image, built and booted on the host (qemu TCG, no lab needed;
root for apt and qemu): blank disk written then verified on the next boot, a log
written, checked and continued across a reboot, a disk hot-plugged and unplugged."""

import os
import shutil
import time
from pathlib import Path

import pytest

from e2e import guest_image
from e2e.guest_image import Disk, Guest

pytestmark = pytest.mark.lab

UUID = "7e570000-0000-4000-8000-00000000c0de"


def _disk(path: Path, head: bytes = b"", size: int = 64 << 20) -> Path:
    path.write_bytes(head)
    os.truncate(path, size)
    return path


@pytest.fixture(scope="module")
def image() -> Path:
    if os.geteuid() != 0:
        pytest.skip("needs root (apt, qemu)")
    return guest_image.build(guest_image.DEFAULT_OUT)


def test_write_verify_log_across_reboot(image: Path, tmp_path: Path) -> None:
    assert image.stat().st_size < 32 << 20
    data = _disk(tmp_path / "data.img")
    log = _disk(tmp_path / "log.img", guest_image.request_header("log"))
    disks = [Disk(data, "0a1b2c3d-data-volume"), Disk(log, "0a1b2c3d-log-volume")]

    t0 = time.monotonic()
    with Guest(image, tmp_path / "boot1", disks, uuid=UUID) as g:
        boot = g.wait_for(lambda e: e.kind == "boot", 120)
        boot_secs = time.monotonic() - t0
        assert boot.get("bootdev") == "vda" and boot.get("owner") == UUID
        g.wait_for(lambda e: e.kind == "disk" and e.dev == "vdc", 60)
        found = {e.dev: e for e in g.events() if e.kind == "disk"}
        assert found["vda"].get("role") == "boot"
        assert (found["vdb"].serial, found["vdb"].get("role")) == ("0a1b2c3d-data-volume", "blank")
        assert (found["vdc"].serial, found["vdc"].get("role")) == ("0a1b2c3d-log-volume", "log")
        assert found["vdb"].int("sectors") == 64 * 2048
        wrote = g.wait_for(lambda e: e.kind == "wrote", 120)
        assert (wrote.dev, wrote.get("origin"), wrote.int("gen")) == ("vdb", wrote.serial, 1)
        g.wait_for(lambda e: e.kind == "log" and e.int("seq") >= 5, 120)
    shutil.copy(g.console, tmp_path / "console1.log")
    assert guest_image.check_data(data)
    first = guest_image.check_log(log)
    assert first.bad_seq == 0 and first.records >= 5 and first.origin == "0a1b2c3d-log-volume"

    with Guest(image, tmp_path / "boot2", disks, uuid=UUID) as g:
        v = g.wait_for(lambda e: e.kind == "verified", 120)
        assert (v.dev, v.ok, v.get("sha256")) == ("vdb", True, wrote.get("sha256"))
        lv = g.wait_for(lambda e: e.kind == "log-verified", 120)
        assert (lv.ok, lv.int("records")) == (True, first.records)
        assert g.wait_for(lambda e: e.kind == "log-start").int("next") == first.records + 1
        hot = _disk(tmp_path / "hot.img")
        g.attach(Disk(hot, "0a1b2c3d-hot-volume"), "hot")
        assert g.wait_for(lambda e: e.kind == "wrote" and e.serial == "0a1b2c3d-hot-volume", 120)
        g.detach("hot")
        assert g.wait_for(lambda e: e.kind == "gone" and e.serial == "0a1b2c3d-hot-volume", 60)
        g.wait_for(lambda e: e.kind == "log" and e.int("seq") >= first.records + 5, 120)
    assert guest_image.check_data(hot)
    second = guest_image.check_log(log)
    assert second.bad_seq == 0 and second.records >= first.records + 5
    print(f"image {image.stat().st_size} bytes; boot event after {boot_secs:.1f}s "
          f"(guest uptime {boot.get('uptime')}s); 4 MiB written in {wrote.get('secs')}s, "
          f"verified in {v.get('secs')}s")


def test_multiattach_reader(image: Path, tmp_path: Path) -> None:
    """Two guests on the same files (share-rw, like libvirt's <shareable/>): the
    reader, read-only through its config drive, verifies the data, follows the
    writer's log and leaves a blank shared volume blank."""
    data = _disk(tmp_path / "data.img")
    log = _disk(tmp_path / "log.img", guest_image.request_header("log"))
    blank = _disk(tmp_path / "blank.img")
    shared = [Disk(data, "multi-data", True), Disk(log, "multi-log", True)]
    with Guest(image, tmp_path / "writer", shared, uuid=UUID) as w:
        wrote = w.wait_for(lambda e: e.kind == "wrote", 120)
        w.wait_for(lambda e: e.kind == "log-start", 120)
        cfg = guest_image.config_drive(tmp_path / "config-2.img", "tinyguest.readonly=1\n")
        reader_disks = [*shared, Disk(blank, "multi-blank", True), Disk(cfg)]
        with Guest(image, tmp_path / "reader", reader_disks) as r:
            assert r.wait_for(lambda e: e.kind == "boot", 120).get("readonly") == "1"
            v = r.wait_for(lambda e: e.kind == "verified", 120)
            assert v.ok and v.get("sha256") == wrote.get("sha256")
            lv = r.wait_for(lambda e: e.kind == "log-verified", 120)
            assert lv.ok
            f = r.wait_for(lambda e: e.kind == "log-follow" and e.int("seq") > lv.int("records"),
                           120)
            assert f.ok
            assert r.wait_for(lambda e: e.kind == "disk" and e.serial == "multi-blank", 60) \
                .get("role") == "blank"
            assert not [e for e in r.events() if e.kind in ("wrote", "log-start", "log")]
    assert blank.read_bytes().count(0) == blank.stat().st_size
    assert guest_image.check_log(log).bad_seq == 0
