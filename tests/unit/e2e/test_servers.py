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
"""e2e.servers' pure parts: the console waits and what ``server show`` lists."""

from __future__ import annotations

import pytest

from e2e import servers

# Recorded from `openstack console log show` on the lab (2026-12-06): syslinux's
# banner, then the guest's events.
CONSOLE = """
SYSLINUX 6.04 20210613 Copyright (C) 1994-2015 H. Peter Anvin et al
TINYGUEST boot uptime=53.28 kernel=6.1.0-57-cloud-amd64 bootdev=vda owner=14dee5c7-b6f5-469c-82ec-7ab2a874ac40 config=none mib=4 blank=write readonly=0 poll=3
TINYGUEST disk dev=vda sectors=2097152 serial=- role=boot
TINYGUEST disk dev=vdb sectors=2097152 serial=b5e2ee5f-fd9e-4e6c-9 role=blank
TINYGUEST wrote dev=vdb serial=b5e2ee5f-fd9e-4e6c-9 origin=b5e2ee5f-fd9e-4e6c-9 gen=1 mib=4 sha256=8fc49b47e4d9db81594382ebc129a8ad1f35626db31c507cf31210d936540540 secs=88.46
"""  # noqa: E501


class FakeCli:
    def __init__(self, texts: list[str]) -> None:
        self.texts = texts

    def __call__(self, argv, check=True):  # noqa: ANN001, ANN204
        text = self.texts.pop(0) if len(self.texts) > 1 else self.texts[0]
        return type("P", (), {"stdout": text, "returncode": 0})()


def test_serial_is_the_first_20_characters_of_the_id() -> None:
    assert servers.serial_of("b5e2ee5f-fd9e-4e6c-9b83-9ec2b54c9d53") == "b5e2ee5f-fd9e-4e6c-9"


def test_wait_event_polls_until_the_event(monkeypatch: pytest.MonkeyPatch) -> None:
    head = CONSOLE.rsplit("TINYGUEST wrote", 1)[0]
    monkeypatch.setattr(servers.clients, "cli", FakeCli(["", head, CONSOLE]))
    monkeypatch.setattr(servers.time, "sleep", lambda s: None)
    event = servers.wait_event("vm1", lambda e: e.kind == "wrote"
                               and e.serial == servers.serial_of("b5e2ee5f-fd9e-4e6c-9b83"),
                               timeout=60)
    assert event.get("mib") == "4"


def test_wait_event_fails_with_what_the_console_said(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(servers.clients, "cli", FakeCli([CONSOLE]))
    monkeypatch.setattr(servers.time, "sleep", lambda s: None)
    clock = iter([0.0, 1.0, 1000.0, 1000.0])
    monkeypatch.setattr(servers.time, "monotonic", lambda: next(clock))
    with pytest.raises(AssertionError, match=r"(?s)no verified event within 10s.*wrote"):
        servers.wait_event("vm1", lambda e: e.kind == "verified", timeout=10, what="verified")


def test_wait_event_after_a_line_ignores_earlier_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    old = "TINYGUEST log-error dev=vdb serial=aaaa seq=7\n"
    new = old + "TINYGUEST log dev=vdb serial=aaaa seq=9\n"
    monkeypatch.setattr(servers.clients, "cli", FakeCli([old, old, new]))
    monkeypatch.setattr(servers.time, "sleep", lambda s: None)
    after = servers.last_line("vm1")
    assert after == 1
    event = servers.wait_event("vm1", lambda e: e.kind == "log", timeout=60, after=after)
    assert event.get("seq") == "9"


@pytest.mark.parametrize("shown", [
    [{"id": "a1"}, {"id": "b2"}],  # python-openstackclient 7+: a list of dicts
    "id='a1'\nid='b2'",            # older clients: one string
])
def test_attached_ids(shown: object) -> None:
    assert servers.attached_ids({"volumes_attached": shown}) == {"a1", "b2"}
    assert servers.attached_ids({"volumes_attached": None}) == set()
