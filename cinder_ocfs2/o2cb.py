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
"""Plans for o2cb membership changes, their preflight checks and their execution.

The operators' runbooks, turned into pure functions that return an ordered
list of :class:`Step` (node, argv, why), so ``--dry-run`` prints exactly what
:func:`apply` would run.  The order follows o2cb(7) "ONLINE CLUSTER
MODIFICATION" and o2cb(8):

Adding node N (online in both heartbeat modes):
  1. on every existing node: ``o2cb add-node CLUSTER N --ip --port --number``
     then ``o2cb register-cluster CLUSTER`` (re-registering an already
     registered cluster pushes the new node into configfs, live);
  2. on N: ``o2cb add-cluster``, ``add-node`` for every node (itself
     included), the heartbeat mode and regions, ``register-cluster`` and, with
     global heartbeat, ``start-heartbeat``.  Existing nodes go first: a node
     that connects before its peers know it is refused by o2net.

Removing node N:
  1. N must mount nothing and must not be in any DLM domain or heartbeat
     (it is refused otherwise: the remaining nodes would fence or hang);
  2. on N, if reachable: ``stop-heartbeat`` (global) and
     ``unregister-cluster`` -- never ``remove-cluster``/``unload`` on the
     remaining nodes, which is what left the operators with
     "mount.ocfs2: Internal logic failure while trying to join the group";
  3. on every remaining node: ``o2cb remove-node CLUSTER N`` then
     ``o2cb register-cluster CLUSTER``, which drops N from configfs.

Commands run through :mod:`cinder_ocfs2.executor`, on other nodes behind a
command prefix (``ssh root@node2``, or ``python -m lab exec node2`` in the
lab).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
import shlex
from collections.abc import Callable, Iterable, Mapping, Sequence

from cinder_ocfs2 import cluster, executor

O2CB = "o2cb"
CLUSTER_NAME_RE = re.compile(r"^[0-9A-Za-z]{1,16}$")
NODE_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

ONLINE_RULES = {
    "local": (
        "local heartbeat: adding a node is an online change (mounted filesystems stay "
        "mounted; the new node heartbeats on each disk when it mounts it). Removing a node "
        "is online only once it has unmounted everything and left every DLM domain; "
        "changing a node's address, port or number needs the cluster offline on all nodes "
        "(unmount everywhere, `o2cb unregister-cluster`, edit, `o2cb register-cluster`)."),
    "global": (
        "global heartbeat: nodes can be added and removed online, but a removed node must no "
        "longer be in use, and every node must get the same cluster.conf before new mounts "
        "are allowed (o2cb(7), ONLINE CLUSTER MODIFICATION)."),
}


class PlanError(Exception):
    """A preflight check failed; the message names the fix."""


class StillHeartbeating(PlanError):
    """The node is idle but a peer still sees its heartbeat.

    After a clean unmount, the other nodes keep it in ``o2hb/livenodes``
    until ``dead_threshold`` heartbeats are missed (2 s each): waiting is the fix.
    """


@dataclasses.dataclass(frozen=True)
class Step:
    node: str
    argv: tuple[str, ...]
    why: str

    def __str__(self) -> str:
        return f"[{self.node}] {shlex.join(self.argv)}    # {self.why}"


@dataclasses.dataclass(frozen=True)
class Plan:
    action: str
    cluster: str
    steps: tuple[Step, ...]
    notes: tuple[str, ...] = ()

    @property
    def nodes(self) -> list[str]:
        seen: list[str] = []
        for step in self.steps:
            if step.node not in seen:
                seen.append(step.node)
        return seen

    def as_dict(self) -> dict[str, object]:
        return {"action": self.action, "cluster": self.cluster, "notes": list(self.notes),
                "steps": [{"node": s.node, "argv": list(s.argv), "why": s.why}
                          for s in self.steps]}


def add_node_argv(cluster_name: str, node: cluster.Node) -> tuple[str, ...]:
    return (O2CB, "add-node", cluster_name, node.name, "--ip", node.ip,
            "--port", str(node.port), "--number", str(node.number))


def next_free_number(config: cluster.ClusterConfig) -> int:
    used = {n.number for n in config.nodes}
    return next(i for i in range(cluster.MAX_NODE_NUMBER + 1) if i not in used)


def reference_config(cluster_name: str,
                     confs: Mapping[str, Mapping[str, cluster.ClusterConfig] | None],
                     members: Iterable[str]) -> cluster.ClusterConfig:
    """The cluster as the existing members describe it; they must all agree."""
    found: dict[str, cluster.ClusterConfig] = {}
    for name in members:
        conf = confs.get(name)
        if conf is None:
            continue
        if cluster_name not in conf:
            raise PlanError(f"{name}'s cluster.conf has no cluster {cluster_name!r}: fix "
                            f"{name} first (copy cluster.conf from a healthy node, then "
                            f"`o2cb register-cluster {cluster_name}`)")
        found[name] = conf[cluster_name]
    if not found:
        raise PlanError(f"no existing node's cluster.conf describes {cluster_name!r}: "
                        "give at least one existing member with --peer")
    digests = {name: cluster.checksum(cluster.render_cluster_conf([c]))
               for name, c in found.items()}
    if len(set(digests.values())) > 1:
        detail = ", ".join(f"{n}={d[:12]}" for n, d in digests.items())
        raise PlanError(f"cluster.conf differs between nodes ({detail}): make it identical "
                        "everywhere before changing membership (`cinder-ocfs2 doctor` shows "
                        "the differences)")
    return next(iter(found.values()))


def check_add(config: cluster.ClusterConfig, new: cluster.Node,
              slots: Mapping[str, tuple[int, int]] | None = None) -> list[str]:
    """Preflight for adding ``new``; returns warnings, raises PlanError on blockers.

    ``slots`` maps filesystem label -> (max slots, slots in use).
    """
    if not NODE_NAME_RE.match(new.name):
        raise PlanError(f"bad node name {new.name!r}: it must be the node's short hostname")
    try:
        ipaddress.IPv4Address(new.ip)
    except ValueError:
        raise PlanError(f"bad IPv4 address {new.ip!r} for {new.name}") from None
    if not 0 <= new.number <= cluster.MAX_NODE_NUMBER:
        raise PlanError(f"node number {new.number} out of range 0-{cluster.MAX_NODE_NUMBER}")
    if not 1 <= new.port <= 65535:
        raise PlanError(f"bad port {new.port}")
    if config.node(new.name):
        raise PlanError(f"{new.name} is already a node of {config.name}; nothing to add "
                        "(to change its address, remove it and add it again)")
    clash = config.node_by_number(new.number)
    if clash:
        raise PlanError(f"node number {new.number} is taken by {clash.name}: use "
                        f"--number {next_free_number(config)}")
    for n in config.nodes:
        if (n.ip, n.port) == (new.ip, new.port):
            raise PlanError(f"{new.ip}:{new.port} is already used by {n.name}")
    warnings = []
    for label, (max_slots, used) in sorted((slots or {}).items()):
        if len(config.nodes) + 1 > max_slots:
            warnings.append(
                f"filesystem {label} has {max_slots} slots and {len(config.nodes) + 1} nodes "
                f"after this change ({used} in use): the new node cannot mount it until "
                f"slots are added (`tunefs.ocfs2 -N {len(config.nodes) + 2} DEVICE`)")
    return warnings


def plan_add_node(cluster_name: str, new: cluster.Node,
                  confs: Mapping[str, Mapping[str, cluster.ClusterConfig] | None],
                  slots: Mapping[str, tuple[int, int]] | None = None,
                  timeouts: Mapping[str, int] | None = None) -> Plan:
    """Plan adding ``new`` given each reachable node's parsed cluster.conf.

    ``confs`` maps node name -> that node's cluster.conf (None when it has
    none).  The new node itself may be in ``confs`` (then its steps are
    planned); members that are missing from ``confs`` are reported in notes.
    ``timeouts`` (the members' live configfs values) are copied to the new
    node right after it registers: o2net refuses peers whose timeouts differ.
    """
    members = [n for n in confs if n != new.name]
    config = reference_config(cluster_name, confs, members)
    warnings = check_add(config, new, slots)
    grown = config.with_node(new)
    steps: list[Step] = []
    for node in config.nodes:
        if node.name not in confs:
            continue
        steps.append(Step(node.name, add_node_argv(cluster_name, new),
                          f"add {new.name} to {node.name}'s cluster.conf"))
        steps.append(Step(node.name, (O2CB, "register-cluster", cluster_name),
                          f"push the new node into {node.name}'s live configfs"))
    notes = [ONLINE_RULES.get(config.heartbeat_mode, ONLINE_RULES["local"]), *warnings]
    unreachable = [n.name for n in config.nodes if n.name not in confs]
    if unreachable:
        notes.append(f"not reachable, do the same there by hand: {', '.join(unreachable)}")
    if new.name in confs:
        steps.extend(_join_steps(cluster_name, grown, new.name, confs[new.name], timeouts))
    else:
        notes.append(f"{new.name} not reachable: on it run `cinder-ocfs2 node join` or the "
                     "o2cb add-cluster/add-node/register-cluster steps by hand")
    return Plan("add", cluster_name, tuple(steps), tuple(notes))


def timeout_steps(cluster_name: str, node_name: str,
                  timeouts: Mapping[str, int]) -> list[Step]:
    """Write the cluster's o2cb timeouts into a freshly registered node's configfs
    (what ``/etc/init.d/o2cb online`` does from /etc/default/o2cb)."""
    steps = []
    for key in cluster.TIMEOUT_KEYS:
        if key not in timeouts:
            continue
        sub = f"heartbeat/{key}" if key == "dead_threshold" else key
        path = f"{cluster.CONFIGFS_ROOT}/{cluster_name}/{sub}"
        steps.append(Step(node_name, ("sh", "-c", f"echo {int(timeouts[key])} > {path}"),
                          f"same {key} as the other nodes"))
    return steps


def _join_steps(cluster_name: str, target: cluster.ClusterConfig, node_name: str,
                current: Mapping[str, cluster.ClusterConfig] | None,
                timeouts: Mapping[str, int] | None = None) -> list[Step]:
    """Steps that make ``node_name``'s cluster.conf equal ``target`` and register it."""
    have = (current or {}).get(cluster_name)
    steps: list[Step] = []
    if current is None:
        steps.append(Step(node_name, ("mkdir", "-p", "/etc/ocfs2"),
                          "o2cb needs the config directory"))
    if have is None:
        steps.append(Step(node_name, (O2CB, "add-cluster", cluster_name),
                          f"declare {cluster_name} on {node_name}"))
        have = cluster.ClusterConfig(cluster_name)
    for n in target.nodes:
        existing = have.node(n.name)
        if existing == n:
            continue
        if existing is not None:
            raise PlanError(f"{node_name}'s cluster.conf has {n.name} as "
                            f"{existing.number}/{existing.ip}:{existing.port}, the cluster "
                            f"has {n.number}/{n.ip}:{n.port}: remove the stale entry "
                            f"(`o2cb remove-node {cluster_name} {n.name}` on {node_name})")
        steps.append(Step(node_name, add_node_argv(cluster_name, n),
                          f"{node_name} learns node {n.name}"))
    if target.heartbeat_mode != have.heartbeat_mode:
        steps.append(Step(node_name, (O2CB, "heartbeat-mode", cluster_name,
                                      target.heartbeat_mode),
                          "same heartbeat mode as the cluster"))
    for region in target.heartbeat_regions:
        if region.upper() not in {r.upper() for r in have.heartbeat_regions}:
            steps.append(Step(node_name, (O2CB, "add-heartbeat", cluster_name, region),
                              "same global heartbeat regions as the cluster"))
    steps.append(Step(node_name, (O2CB, "register-cluster", cluster_name),
                      f"bring {cluster_name} online on {node_name}"))
    steps.extend(timeout_steps(cluster_name, node_name, timeouts or {}))
    if target.heartbeat_mode == "global":
        steps.append(Step(node_name, (O2CB, "start-heartbeat", cluster_name),
                          "start global heartbeat"))
    return steps


def check_remove(config: cluster.ClusterConfig, name: str, *,
                 mounting: Mapping[str, Iterable[str]] | None = None,
                 dlm_members: Mapping[str, Iterable[int]] | None = None,
                 live: Iterable[int] | None = None) -> cluster.Node:
    """Preflight for removing ``name``: it must exist and be idle everywhere.

    ``mounting`` maps filesystem label -> node names mounting it
    (``mounted.ocfs2 -f``); ``dlm_members`` maps DLM domain (fs UUID) -> node
    numbers in its domain map; ``live`` lists node numbers heartbeating.
    """
    node = config.node(name)
    if node is None:
        raise PlanError(f"{name} is not a node of {config.name} (nodes: "
                        f"{', '.join(n.name for n in config.nodes) or 'none'})")
    busy = sorted(label for label, nodes in (mounting or {}).items() if name in set(nodes))
    if busy:
        raise PlanError(f"{name} still mounts {', '.join(busy)}: unmount there first "
                        f"(`umount` on {name}, and stop cinder-volume on it), then retry")
    domains = sorted(d for d, nums in (dlm_members or {}).items() if node.number in set(nums))
    if domains:
        raise PlanError(f"{name} (node {node.number}) is still in DLM domain(s) "
                        f"{', '.join(domains)}: it has not finished unmounting; wait for it "
                        "or unmount there, then retry")
    if live is not None and node.number in set(live):
        raise StillHeartbeating(f"{name} (node {node.number}) is still heartbeating: unmount "
                        f"everything on {name} (global heartbeat: `o2cb stop-heartbeat "
                        f"{config.name}` there) and retry")
    return node


def plan_remove_node(cluster_name: str, name: str,
                     confs: Mapping[str, Mapping[str, cluster.ClusterConfig] | None], *,
                     mounting: Mapping[str, Iterable[str]] | None = None,
                     dlm_members: Mapping[str, Iterable[int]] | None = None,
                     live: Iterable[int] | None = None) -> Plan:
    config = reference_config(cluster_name, confs, list(confs))
    check_remove(config, name, mounting=mounting, dlm_members=dlm_members, live=live)
    remaining = [n for n in config.nodes if n.name != name]
    if not remaining:
        raise PlanError(f"{name} is the last node of {cluster_name}; refusing to remove it")
    steps: list[Step] = []
    if name in confs:
        if config.heartbeat_mode == "global":
            steps.append(Step(name, (O2CB, "stop-heartbeat", cluster_name),
                              f"stop global heartbeat on {name}"))
        steps.append(Step(name, (O2CB, "unregister-cluster", cluster_name),
                          f"take {cluster_name} offline on {name} (its cluster.conf is kept)"))
    for node in remaining:
        if node.name not in confs:
            continue
        steps.append(Step(node.name, (O2CB, "remove-node", cluster_name, name),
                          f"drop {name} from {node.name}'s cluster.conf"))
        steps.append(Step(node.name, (O2CB, "register-cluster", cluster_name),
                          f"drop {name} from {node.name}'s live configfs (nothing else "
                          "is stopped: no remove-cluster, no unload)"))
    notes = [ONLINE_RULES.get(config.heartbeat_mode, ONLINE_RULES["local"])]
    unreachable = [n.name for n in remaining if n.name not in confs]
    if unreachable:
        notes.append(f"not reachable, do the same there by hand: {', '.join(unreachable)}")
    return Plan("remove", cluster_name, tuple(steps), tuple(notes))


Progress = Callable[[int, int, Step], None]


def apply(plan: Plan, prefixes: Mapping[str, Sequence[str]], *,
          progress: Progress | None = None, timeout: float = 120.0) -> list[executor.Result]:
    """Run ``plan`` step by step; ``prefixes`` maps node -> command prefix (``()`` = here).

    Every node of the plan needs a prefix; the first failure stops the run
    (raising :class:`executor.CommandError`), so a half-applied plan can be
    re-planned and finished: plans are computed from the current state.
    """
    missing = [n for n in plan.nodes if n not in prefixes]
    if missing:
        raise PlanError(f"no way to run commands on {', '.join(missing)}: pass "
                        f"--peer {missing[0]}='ssh root@{missing[0]}' (or run there)")
    results = []
    for i, step in enumerate(plan.steps, 1):
        if progress:
            progress(i, len(plan.steps), step)
        results.append(executor.run(executor.behind(prefixes[step.node], step.argv),
                                    timeout=timeout))
    return results
