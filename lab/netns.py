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
"""The lab's network namespace: a bridge with the host side's address, one tap per node.

Nothing is routed out of the namespace and there is no NAT: nodes can reach
each other and ``HOST_IP`` (processes run with ``ip netns exec``), nothing else.
"""

from __future__ import annotations

import subprocess

from lab import config


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True)


def exists() -> bool:
    return config.NETNS in _ip("netns", "list").stdout.split()


def ensure() -> None:
    if not exists():
        _ip("netns", "add", config.NETNS)
    ns = ("-n", config.NETNS)
    _ip(*ns, "link", "set", "lo", "up")
    if _ip(*ns, "link", "show", config.BRIDGE, check=False).returncode:
        _ip(*ns, "link", "add", config.BRIDGE, "type", "bridge")
        _ip(*ns, "addr", "add", f"{config.HOST_IP}/{config.PREFIX}", "dev", config.BRIDGE)
    _ip(*ns, "link", "set", config.BRIDGE, "up")


def tap_name(index: int) -> str:
    return f"labtap{index}"


def ensure_tap(index: int) -> str:
    """(Re)create node ``index``'s tap on the bridge and return its name."""
    ensure()
    name = tap_name(index)
    ns = ("-n", config.NETNS)
    _ip(*ns, "link", "del", name, check=False)
    _ip(*ns, "tuntap", "add", "dev", name, "mode", "tap")
    _ip(*ns, "link", "set", name, "master", config.BRIDGE)
    _ip(*ns, "link", "set", name, "up")
    return name


def destroy() -> None:
    if exists():
        _ip("netns", "del", config.NETNS, check=False)


def wrap(cmd: list[str]) -> list[str]:
    """Return ``cmd`` prefixed so that it runs inside the lab's netns."""
    return ["ip", "netns", "exec", config.NETNS, *cmd]


def _isolated(indexes: list[int], on: bool) -> None:
    for index in indexes:
        subprocess.run(wrap(["bridge", "link", "set", "dev", tap_name(index), "isolated",
                             "on" if on else "off"]), check=on, capture_output=True, text=True)


def partition(indexes: list[int]) -> None:
    """Cut the nodes ``indexes`` off from each other (o2net's interconnect and all else
    between them: bridge port isolation), each still reaching the host side's services.
    (No ``tc`` filter: the host may not load tc action modules.)"""
    _isolated(indexes, True)


def mend(indexes: list[int]) -> None:
    """Undo :func:`partition` (a node's tap made again on its restart is not isolated)."""
    _isolated(indexes, False)
