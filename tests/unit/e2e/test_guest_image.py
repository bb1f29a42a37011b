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
"""e2e.guest_image's pure parts: the console parser on recorded consoles
(tests/fixtures/recorded/guest/), the host-side disk formats."""

import hashlib
from pathlib import Path

import pytest

from e2e import guest_image
from e2e.guest_image import Event, parse_console

RECORDED = Path(__file__).resolve().parents[2] / "fixtures" / "recorded" / "guest"


def _events(name: str) -> list[Event]:
    return parse_console((RECORDED / name).read_text())


def _kinds(events: list[Event]) -> list[str]:
    return [e.kind for e in events]


def test_boot_and_write_two_blank_disks() -> None:
    events = _events("boot-write-two-blank-disks.log")
    assert _kinds(events) == ["boot", "disk", "disk", "wrote", "disk", "wrote"]
    boot = events[0]
    assert boot.fields["kernel"] == "6.1.0-57-cloud-amd64"
    assert boot.get("bootdev") == "vda" and float(boot.get("uptime")) < 10
    assert boot.line == 3  # after the blank line and syslinux's banner
    disks = [e for e in events if e.kind == "disk"]
    assert [(d.dev, d.serial, d.get("role")) for d in disks] == [
        ("vda", "-", "boot"), ("vdb", "vol-aaaa", "blank"), ("vdc", "vol-bbbb", "blank")]
    assert disks[1].int("sectors") == 64 * 2048
    wrote = [e for e in events if e.kind == "wrote"]
    assert [(w.dev, w.serial, w.get("origin"), w.int("gen"), w.int("mib")) for w in wrote] == [
        ("vdb", "vol-aaaa", "vol-aaaa", 1, 4), ("vdc", "vol-bbbb", "vol-bbbb", 1, 4)]
    # the guest's awk pattern and the host's record() agree
    want = hashlib.sha256(guest_image.data_pattern("vol-aaaa", 1, 4)).hexdigest()
    assert wrote[0].get("sha256") == want


def test_verify_and_new_log() -> None:
    events = _events("verify-and-new-log.log")
    v = next(e for e in events if e.kind == "verified")
    assert (v.dev, v.serial, v.ok) == ("vdb", "vol-aaaa", True)
    assert v.get("sha256") == _events("boot-write-two-blank-disks.log")[3].get("sha256")
    start = next(e for e in events if e.kind == "log-start")
    assert (start.dev, start.get("origin"), start.int("next")) == ("vdc", "vol-log", 1)
    seqs = [e.int("seq") for e in events if e.kind == "log"]
    assert seqs == sorted(seqs) and seqs[-1] >= 30


def test_log_continues_after_reboot_and_hotplug() -> None:
    events = _events("log-reboot-hotplug.log")
    lv = next(e for e in events if e.kind == "log-verified")
    assert (lv.ok, lv.int("records")) == (True, 10)
    assert next(e for e in events if e.kind == "log-start").int("next") == 11
    hot = [(e.kind, e.dev, e.get("role")) for e in events if e.serial == "vol-hot"]
    assert hot == [("disk", "vdc", "blank"), ("wrote", "vdc", ""), ("gone", "vdc", ""),
                   ("disk", "vdc", "data"), ("verified", "vdc", "")]
    assert all(e.ok for e in events if e.kind == "verified")


def test_readonly_guest_reports_corruption_and_writes_nothing() -> None:
    events = _events("config-drive-readonly-corrupt.log")
    boot = events[0]
    assert (boot.get("config"), boot.get("readonly"), boot.get("blank")) == ("vde", "1", "ignore")
    v = next(e for e in events if e.kind == "verified")
    assert not v.ok and v.int("bad_offset") == (1 << 20) + 5000
    assert v.get("origin") == "vol-aaaa" and v.serial == "vol-aaaa-clone"
    assert not [e for e in events if e.kind in ("wrote", "log-start", "log")]
    lv = next(e for e in events if e.kind == "log-verified")
    assert (lv.dev, lv.ok, lv.int("records")) == ("vdd", True, 47)
    assert ("vdc", "blank") in [(e.dev, e.get("role")) for e in events if e.kind == "disk"]
    assert ("vde", "config") in [(e.dev, e.get("role")) for e in events if e.kind == "disk"]


def test_multiattach_reader_follows_the_writer() -> None:
    writer = _events("multiattach-writer.log")
    reader = _events("multiattach-reader.log")
    wrote = next(e for e in writer if e.kind == "wrote")
    assert next(e for e in writer if e.kind == "log-start").get("origin") == "multi-log"
    assert writer[0].get("owner") != reader[0].get("owner")
    v = next(e for e in reader if e.kind == "verified")
    assert v.ok and v.get("sha256") == wrote.get("sha256")
    assert not [e for e in reader if e.kind in ("wrote", "log-start", "log")]
    follow = [e.int("seq") for e in reader if e.kind == "log-follow"]
    lv = next(e for e in reader if e.kind == "log-verified")
    assert follow == sorted(follow) and follow[0] > lv.int("records")
    assert all(e.ok for e in reader if e.kind == "log-follow")


def test_parse_tolerates_noise_and_cut_lines() -> None:
    text = ("[    1.2] virtio_blk virtio1: [vdb] 2097152 512-byte logical blocks\r\n"
            "garbageTINYGUEST gone dev=vdb serial=abc\r\n"
            "TINYGUEST not an event\n"
            "TINYGUEST log dev=vdc serial=x origin=x seq=1")
    assert parse_console(text) == [
        Event("gone", {"dev": "vdb", "serial": "abc"}, 2),
        Event("not", {}, 3),
        Event("log", {"dev": "vdc", "serial": "x", "origin": "x", "seq": "1"}, 4),
    ]


def test_record_layout() -> None:
    rec = guest_image.record("TGLOG", 7, 0, "vol-1")
    lines = rec.decode().split("\n")
    assert len(rec) == 4096 and all(len(x) == 63 for x in lines[:64])
    assert lines[0].startswith("TGLOG n=0000000007 g=000000 o=vol-1 ")
    assert lines[1] == "000000000001736 000000000001737 000000000001738 000000000001739"
    assert lines[63].startswith("TGSUM ")


def test_header_roundtrip_and_log_check(tmp_path: Path) -> None:
    assert guest_image.parse_header(b"\0" * 4096) is None
    assert guest_image.parse_header(guest_image.request_header("log")) == {"role": "log"}
    with pytest.raises(ValueError):
        guest_image.request_header("other")
    disk = tmp_path / "log.img"
    hdr = b"TINYGUEST-DISK v1\nrole=log\norigin=v\ngen=0\nowner=u\n".ljust(4096, b"\0")
    recs = b"".join(guest_image.record("TGLOG", n, 0, "v") for n in (1, 2, 3))
    disk.write_bytes(hdr.ljust(1 << 20, b"\0") + recs + b"\0" * 4096)
    assert guest_image.check_log(disk) == guest_image.LogCheck("v", 3, 0)
    with open(disk, "r+b") as f:
        f.seek((1 << 20) + 4096 + 100)
        f.write(b"X")
    assert guest_image.check_log(disk) == guest_image.LogCheck("v", 1, 2)
