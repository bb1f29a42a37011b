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
"""``python -m lab record-fixtures`` still works and captures what parsers rely on.

It records into a temporary directory (the committed recordings in
tests/fixtures/recorded are only replaced by running the command by hand).
It injects faults on node2 (NIC down, IP removed, cluster unregistered) and
restores it; run it on a lab nobody else is using.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lab import record
from lab.lab import Lab

pytestmark = [pytest.mark.lab, pytest.mark.record]


def test_record_fixtures(lab: Lab, tmp_path: Path) -> None:
    files = {p.name: p for p in record.record_all(lab, tmp_path)}
    assert "README.md" in files
    text = {name: path.read_text(errors="replace") for name, path in files.items()}
    assert " - ocfs2 " in text["node1-proc-self-mountinfo.txt"]
    assert "TYPE=ocfs2" in text["node1-blkid-p-o-export.txt"]
    assert "refcount" in text["node1-o2info-fs-features.txt"]
    assert "node1, node2" in text["node1-mounted.ocfs2-f.txt"]
    assert "Domain Map: 0 1" in text["node1-o2dlm-dlm_state.txt"]
    assert "heartbeat/mode: local" in text["node1-configfs-values.txt"]
    assert "Internal logic failure while trying to join the group" in text[
        "node2-mount-no-ip.stderr"]
    # node2 is whole again afterwards.
    mounts = lab.node("node2").sh("grep ' ocfs2 ' /proc/mounts")
    assert lab.mountpoint() in mounts
