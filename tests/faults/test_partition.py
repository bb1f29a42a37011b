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
"""Interconnect partition: the network between the nodes (o2net's TCP 7777 and all
else) is cut in the lab's netns (bridge port isolation) for longer than the o2cb
idle timeout, while both still heartbeat on the shared disks and reach the
control plane.

What o2cb does is recorded: which node fences itself and how long after the cut
(in a two-node cluster the half with the lowest node number, node1, keeps
quorum). Then the link is mended, the fenced node boots and rejoins, and: the
survivor's cinder-volume served through it all (a create there succeeds), the
data written before the cut is whole on both nodes, a volume written by the
survivor during the partition is whole, and no file is left that Cinder does
not own.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from e2e import config, deploy, nodes
from e2e.api import (
    clean_up,
    ensure_type,
    orphans,
    osc_json,
    sha_head,
    state,
    volume_file,
    wait,
    write_pattern,
)
from lab import config as lab_config
from lab import netns
from lab.lab import Lab

pytestmark = [pytest.mark.lab]

PREFIX = "fault-split-"
#: How long to wait for a node to fence itself after the cut: the idle timeout,
#: o2quo's decision and the panic, with room for TCG.
FENCE_TIMEOUT = 20 * lab_config.IDLE_TIMEOUT_MS / 1000
SERVE_TIMEOUT = 600


@pytest.fixture
def mended(deployment: Lab) -> Iterator[None]:
    """The link mended and every node back, whatever happened."""
    yield
    netns.mend([n.index for n in deployment.nodes])
    for node in deployment.nodes:
        if not node.running():
            nodes.rejoin(deployment, node.name)


def test_interconnect_partition(deployment: Lab, report, mended: None) -> None:
    """Interconnect partition (the network between the nodes cut)."""
    node1, node2 = deployment.node("node1"), deployment.node("node2")
    kind = ensure_type(f"{PREFIX}{config.PRIMARY_LABEL}", volume_backend_name="ocfs2",
                       pool_name=config.PRIMARY_LABEL)
    before = wait("volume", osc_json("volume", "create", f"{PREFIX}before", "--size", "1",
                                     "--type", kind)["id"], "available")
    before_sha = write_pattern(node2, volume_file(before), f"{PREFIX}before")

    cut_at = time.monotonic()
    netns.partition([n.index for n in deployment.nodes])
    report.faults = 1
    fenced: dict[str, float] = {}
    while time.monotonic() - cut_at < FENCE_TIMEOUT and not fenced:
        for node in deployment.nodes:
            if not node.running():
                fenced[node.name] = time.monotonic() - cut_at
        time.sleep(0.5)
    survivors = [n for n in deployment.nodes if n.name not in fenced]
    print(f"\n  fenced after the cut: {fenced or 'none'} "
          f"(idle timeout {lab_config.IDLE_TIMEOUT_MS} ms); survivors: "
          f"{[n.name for n in survivors]}")
    console = node2.vm.console.read_text(errors="replace")
    fence_lines = [line for line in console.splitlines() if "o2quo" in line
                   or "fenc" in line.lower() or "panic" in line.lower()]
    print("  " + "\n  ".join(fence_lines[-6:]))
    assert fenced, f"no node fenced itself {FENCE_TIMEOUT:.0f} s after the cut"
    assert len(survivors) == 1, f"every node fenced: {fenced}"
    survivor = survivors[0]
    report.in_flight = 1

    # The survivor's services serve on: a create there, and its data whole.
    probe = osc_json("volume", "create", f"{PREFIX}during", "--size", "1", "--type",
                     kind)["id"]
    deadline = time.monotonic() + SERVE_TIMEOUT
    while state("volume", probe) != "available":
        assert time.monotonic() < deadline, f"no create on {survivor.name}: " \
            f"{state('volume', probe)}"
        assert not str(state("volume", probe)).startswith("error"), state("volume", probe)
        time.sleep(2)
    served = time.monotonic() - cut_at
    during = osc_json("volume", "show", probe)
    during_sha = write_pattern(survivor, volume_file(during), f"{PREFIX}during")
    print(f"  a create on {survivor.name} available {served:.0f} s after the cut")

    netns.mend([n.index for n in deployment.nodes])
    since = deploy.nodes_now(deployment)
    for name in fenced:
        nodes.rejoin(deployment, name)
    deploy.wait_services(len(deployment.running_nodes()) * (len(config.BACKENDS) + 1),
                         since=since)
    report.recovery_s = time.monotonic() - cut_at
    lost = [what for what, vol, sha in (("before", before, before_sha),
                                        ("during", during, during_sha))
            for node in (node1, node2) if sha_head(node, volume_file(vol)) != sha]
    report.data_lost = len(lost)
    clean_up(PREFIX)
    report.orphans = len(orphans(node1))
    print(f"  back together {report.recovery_s:.0f} s after the cut")
    assert not lost, f"data differs after the partition: {lost}"
    assert report.orphans == 0, orphans(node1)
