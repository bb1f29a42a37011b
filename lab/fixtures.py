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
"""pytest fixtures for tests that need the lab (loaded by tests/conftest.py).

* ``lab`` (session): a running :class:`lab.lab.Lab` with 2 nodes and the
  ``lab0`` disk mounted at ``/var/lib/cinder/ocfs2/lab0`` on both. It reuses a
  lab that is already up (e.g. from ``python -m lab up``) and leaves that one
  running; a lab it booted itself is powered off at the end unless
  ``LAB_KEEP=1``. Set ``LAB_FRESH=1`` to always boot a fresh one.
* ``node1``, ``node2``: shortcuts for ``lab.node("node1")`` etc.

Only tests marked ``@pytest.mark.lab`` should use them; the lab needs root,
qemu and a few minutes. Such tests are skipped unless the run selects them
with ``-m`` (e.g. ``pytest -m lab tests/lab``, as ``make lab-test`` does).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from lab.lab import Lab, Node


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "lab" in (config.getoption("markexpr", "") or ""):
        return
    skip = pytest.mark.skip(reason="lab test: select with -m lab (make lab-test)")
    for item in items:
        if item.get_closest_marker("lab") is not None:
            item.add_marker(skip)


def _reusable(lab: Lab) -> bool:
    if not lab.is_up() or lab.state.nodes < 2:
        return False
    try:
        # Generous: under TCG on a loaded host an agent can take tens of seconds,
        # and a lab judged dead here is torn down and booted again.
        return all(n.agent.ping(timeout=60) == n.name for n in lab.nodes)
    except Exception:
        return False


@pytest.fixture(scope="session")
def lab() -> Iterator[Lab]:
    if os.geteuid() != 0:
        pytest.skip("the lab needs root (netns, taps)")
    existing = Lab()
    if os.environ.get("LAB_FRESH") != "1" and _reusable(existing):
        yield existing
        return
    booted = existing.up(nodes=int(os.environ.get("LAB_NODES", "2")))
    try:
        yield booted
    finally:
        if os.environ.get("LAB_KEEP") != "1":
            booted.down()


@pytest.fixture
def node1(lab: Lab) -> Node:
    return lab.node("node1")


@pytest.fixture
def node2(lab: Lab) -> Node:
    return lab.node("node2")
