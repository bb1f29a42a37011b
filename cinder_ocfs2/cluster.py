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
"""O2CB cluster state: ``/etc/ocfs2/cluster.conf`` and the live configfs view.

Two sources describe an o2cb cluster, and they can disagree:

* ``/etc/ocfs2/cluster.conf``, the stanza file that ``o2cb add-node`` & co.
  edit (see ocfs2.cluster.conf(5)).  As written by ``o2cb`` 1.8.7::

      cluster:
      \\tname = labcluster
      \\theartbeat_mode = local
      \\tnode_count = 2

      node:
      \\tcluster = labcluster
      \\tnumber = 1
      \\tip_port = 7777
      \\tip_address = 10.77.0.11
      \\tname = node1

  Stanzas start in column 0 and end with a colon; parameters follow a tab;
  a blank line ends a stanza.  ``heartbeat:`` stanzas (``region``,
  ``cluster``) list global heartbeat regions.

* configfs, what the kernel actually runs (``o2cb register-cluster`` copies
  the file into it)::

      /sys/kernel/config/cluster/<cluster>/
          idle_timeout_ms  keepalive_delay_ms  reconnect_delay_ms  fence_method
          heartbeat/dead_threshold  heartbeat/mode  heartbeat/<REGION-UUID>/
          node/<name>/{num,ipv4_address,ipv4_port,local}

:func:`parse_cluster_conf` and :func:`render_cluster_conf` are pure;
:func:`read_configfs` and :func:`read_state` read local files with ``open()``
(paths injectable for tests) and never run commands.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import socket
from collections.abc import Iterable

CONFIGFS_ROOT = "/sys/kernel/config/cluster"
CLUSTER_CONF = "/etc/ocfs2/cluster.conf"
DEFAULT_PORT = 7777
MAX_NODE_NUMBER = 254
TIMEOUT_KEYS = ("dead_threshold", "idle_timeout_ms", "keepalive_delay_ms",
                "reconnect_delay_ms")


class ParseError(ValueError):
    """cluster.conf does not follow the stanza format of ocfs2.cluster.conf(5)."""


@dataclasses.dataclass(frozen=True)
class Node:
    name: str
    number: int
    ip: str
    port: int = DEFAULT_PORT
    local: bool = False

    def as_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class ClusterConfig:
    """One cluster as cluster.conf describes it."""

    name: str
    heartbeat_mode: str = "local"
    nodes: tuple[Node, ...] = ()
    heartbeat_regions: tuple[str, ...] = ()
    node_count: int | None = None  # as written; None when absent

    def node(self, name: str) -> Node | None:
        return next((n for n in self.nodes if n.name == name), None)

    def node_by_number(self, number: int) -> Node | None:
        return next((n for n in self.nodes if n.number == number), None)

    def with_node(self, node: Node) -> ClusterConfig:
        """A copy with ``node`` added (the caller checks for clashes)."""
        return dataclasses.replace(self, nodes=(*self.nodes, node), node_count=None)

    def without_node(self, name: str) -> ClusterConfig:
        return dataclasses.replace(
            self, nodes=tuple(n for n in self.nodes if n.name != name), node_count=None)


# ---------------------------------------------------------------------------
# cluster.conf: pure parser and renderer


def _stanzas(text: str) -> list[tuple[str, dict[str, str], int]]:
    stanzas: list[tuple[str, dict[str, str], int]] = []
    current: dict[str, str] | None = None
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip()
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if not raw[0].isspace():
            if not stripped.endswith(":") or " " in stripped:
                raise ParseError(
                    f"line {lineno}: expected a stanza header like 'node:', got {raw!r}")
            current = {}
            stanzas.append((stripped[:-1], current, lineno))
            continue
        if current is None:
            raise ParseError(f"line {lineno}: parameter outside a stanza: {raw!r}")
        key, sep, value = stripped.partition("=")
        if not sep:
            raise ParseError(f"line {lineno}: expected 'key = value', got {raw!r}")
        current[key.strip()] = value.strip()
    return stanzas


def _int(value: str | None, what: str, lineno: int) -> int:
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ParseError(f"line {lineno}: {what} must be an integer, got {value!r}") from None


def parse_cluster_conf(text: str) -> dict[str, ClusterConfig]:
    """Parse cluster.conf text into ``{cluster name: ClusterConfig}``.

    Order is preserved (stanza order of the clusters); nodes and regions keep
    file order.  Nodes or regions naming an undeclared cluster are an error,
    as they are for o2cb.
    """
    stanzas = _stanzas(text)
    clusters: dict[str, dict[str, object]] = {}
    nodes: list[tuple[str, Node, int]] = []
    regions: list[tuple[str, str, int]] = []
    for kind, params, lineno in stanzas:
        if kind == "cluster":
            name = params.get("name")
            if not name:
                raise ParseError(f"line {lineno}: cluster stanza without a name")
            count = params.get("node_count")
            clusters[name] = {
                "heartbeat_mode": params.get("heartbeat_mode", "local"),
                "node_count": _int(count, "node_count", lineno) if count is not None else None,
            }
        elif kind == "node":
            missing = [k for k in ("name", "number", "ip_address", "cluster") if k not in params]
            if missing:
                raise ParseError(f"line {lineno}: node stanza lacks {', '.join(missing)}")
            node = Node(name=params["name"], number=_int(params["number"], "number", lineno),
                        ip=params["ip_address"],
                        port=_int(params.get("ip_port", str(DEFAULT_PORT)), "ip_port", lineno))
            nodes.append((params["cluster"], node, lineno))
        elif kind == "heartbeat":
            if "region" not in params or "cluster" not in params:
                raise ParseError(f"line {lineno}: heartbeat stanza needs region and cluster")
            regions.append((params["cluster"], params["region"], lineno))
        else:
            raise ParseError(f"line {lineno}: unknown stanza {kind!r}")
    for cluster, _, lineno in [*nodes, *regions]:
        if cluster not in clusters:
            raise ParseError(f"line {lineno}: stanza names undeclared cluster {cluster!r}")
    result: dict[str, ClusterConfig] = {}
    for name, attrs in clusters.items():
        result[name] = ClusterConfig(
            name=name,
            heartbeat_mode=str(attrs["heartbeat_mode"]),
            node_count=attrs["node_count"],  # type: ignore[arg-type]
            nodes=tuple(n for c, n, _ in nodes if c == name),
            heartbeat_regions=tuple(r for c, r, _ in regions if c == name),
        )
    return result


def render_cluster_conf(clusters: Iterable[ClusterConfig]) -> str:
    """Render clusters in the exact layout ``o2cb`` 1.8 writes.

    All ``cluster:`` stanzas first, then ``heartbeat:``, then ``node:``;
    ``node_count`` is always recomputed from the nodes.  Rendering a file
    that o2cb wrote gives the same bytes back.
    """
    clusters = list(clusters)
    out: list[str] = []
    for c in clusters:
        out.append(f"cluster:\n\tname = {c.name}\n\theartbeat_mode = {c.heartbeat_mode}\n"
                   f"\tnode_count = {len(c.nodes)}\n\n")
    for c in clusters:
        for region in c.heartbeat_regions:
            out.append(f"heartbeat:\n\tcluster = {c.name}\n\tregion = {region}\n\n")
    for c in clusters:
        for n in c.nodes:
            out.append(f"node:\n\tcluster = {c.name}\n\tnumber = {n.number}\n"
                       f"\tip_port = {n.port}\n\tip_address = {n.ip}\n\tname = {n.name}\n\n")
    return "".join(out)


def checksum(text: str) -> str:
    """sha256 of cluster.conf as the kernel sees it: parsed and re-rendered.

    Whitespace, comments and stanza order do not change it, so two nodes with
    equivalent files agree while any real difference (a node, an address, the
    heartbeat mode) does not.
    """
    canonical = render_cluster_conf(
        dataclasses.replace(c, nodes=tuple(sorted(c.nodes, key=lambda n: n.number)),
                            heartbeat_regions=tuple(sorted(r.upper()
                                                           for r in c.heartbeat_regions)))
        for c in sorted(parse_cluster_conf(text).values(), key=lambda c: c.name))
    return hashlib.sha256(canonical.encode()).hexdigest()


def read_cluster_conf(path: str = CLUSTER_CONF) -> dict[str, ClusterConfig]:
    with open(path, encoding="utf-8") as f:
        return parse_cluster_conf(f.read())


def write_cluster_conf(path: str, clusters: Iterable[ClusterConfig]) -> None:
    """Atomically replace ``path``: write ``.tmp-cluster.conf-<pid>``, fsync, rename."""
    text = render_cluster_conf(clusters)
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, f".tmp-{os.path.basename(path)}-{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    dirfd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dirfd)
    finally:
        os.close(dirfd)


# ---------------------------------------------------------------------------
# configfs: what the kernel runs


@dataclasses.dataclass(frozen=True)
class ClusterState:
    """This node's live o2cb state, as read from configfs."""

    registered: bool
    name: str | None = None
    heartbeat_mode: str | None = None
    local_node: str | None = None
    nodes: tuple[Node, ...] = ()
    #: active heartbeat regions (local mode: one per mounted filesystem,
    #: named by the filesystem UUID in upper-case hex)
    heartbeat_regions: tuple[str, ...] = ()
    timeouts: dict[str, int] = dataclasses.field(default_factory=dict)
    fence_method: str | None = None
    stack_loaded: bool = True
    problem: str | None = None

    @property
    def online(self) -> bool:
        """As ``o2cb cluster-status``: registered, and with global heartbeat
        at least one region heartbeating."""
        if not self.registered:
            return False
        if self.heartbeat_mode == "global":
            return bool(self.heartbeat_regions)
        return True

    def node(self, name: str) -> Node | None:
        return next((n for n in self.nodes if n.name == name), None)

    def as_dict(self) -> dict[str, object]:
        data = dataclasses.asdict(self)
        data["online"] = self.online
        data["nodes"] = [n.as_dict() for n in self.nodes]
        data["heartbeat_regions"] = list(self.heartbeat_regions)
        return data


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read().strip()
    except OSError:
        return None


def _read_int(path: str) -> int | None:
    value = _read(path)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _listdir(path: str) -> list[str]:
    try:
        return sorted(e.name for e in os.scandir(path) if e.is_dir(follow_symlinks=False))
    except OSError:
        return []


def read_configfs(configfs_root: str, name: str) -> ClusterState:
    """Read one registered cluster ``<configfs_root>/<name>``; no problem analysis."""
    base = os.path.join(configfs_root, name)
    nodes = []
    for node_name in _listdir(os.path.join(base, "node")):
        nbase = os.path.join(base, "node", node_name)
        nodes.append(Node(name=node_name,
                          number=_read_int(os.path.join(nbase, "num")) or 0,
                          ip=_read(os.path.join(nbase, "ipv4_address")) or "",
                          port=_read_int(os.path.join(nbase, "ipv4_port")) or 0,
                          local=_read_int(os.path.join(nbase, "local")) == 1))
    nodes.sort(key=lambda n: n.number)
    timeouts: dict[str, int] = {}
    for key in TIMEOUT_KEYS:
        sub = ("heartbeat", key) if key == "dead_threshold" else (key,)
        value = _read_int(os.path.join(base, *sub))
        if value is not None:
            timeouts[key] = value
    local = next((n.name for n in nodes if n.local), None)
    return ClusterState(
        registered=True,
        name=name,
        heartbeat_mode=_read(os.path.join(base, "heartbeat", "mode")) or "local",
        local_node=local,
        nodes=tuple(nodes),
        heartbeat_regions=tuple(_listdir(os.path.join(base, "heartbeat"))),
        timeouts=timeouts,
        fence_method=_read(os.path.join(base, "fence_method")),
    )


def short_hostname(hostname: str | None = None) -> str:
    """The host name o2cb compares node names with (up to the first dot)."""
    return (hostname or socket.gethostname()).split(".", 1)[0]


def read_state(configfs_root: str = CONFIGFS_ROOT, *,
               conf_path: str | None = CLUSTER_CONF,
               hostname: str | None = None) -> ClusterState:
    """This node's o2cb state, with :attr:`ClusterState.problem` naming the fix.

    ``conf_path`` (cluster.conf) is only used to name the cluster in the fix
    when nothing is registered; a missing file is fine.
    """
    conf_names: list[str] = []
    if conf_path:
        try:
            conf_names = list(read_cluster_conf(conf_path))
        except (OSError, ParseError):
            conf_names = []
    wanted = conf_names[0] if conf_names else "NAME"
    if not os.path.isdir(configfs_root):
        return ClusterState(
            registered=False, stack_loaded=False,
            problem=(f"the o2cb cluster stack is not loaded ({configfs_root} is missing): "
                     "load it with `modprobe ocfs2_stack_o2cb ocfs2_dlmfs`, mount configfs "
                     "(`mount -t configfs none /sys/kernel/config`), then run "
                     f"`o2cb register-cluster {wanted}`"))
    registered = _listdir(configfs_root)
    if not registered:
        return ClusterState(
            registered=False,
            problem=(f"o2cb cluster is not registered: run `o2cb register-cluster {wanted}` "
                     "(until then mount.ocfs2 fails with 'Cluster name is invalid while trying "
                     "to join the group')"))
    state = read_configfs(configfs_root, registered[0])
    host = short_hostname(hostname)
    problem = None
    if state.local_node is None:
        problem = (f"cluster {state.name} is registered but this host ({host}) is not one of "
                   "its nodes (no node is local, so mount.ocfs2 fails with 'Internal logic "
                   "failure while trying to join the group'): put it back in cluster.conf on "
                   f"every node (`o2cb add-node {state.name} {host} --ip IP`, or copy "
                   "cluster.conf from a healthy node), then run "
                   f"`o2cb register-cluster {state.name}`")
    elif state.heartbeat_mode == "global" and not state.heartbeat_regions:
        problem = (f"global heartbeat of cluster {state.name} is not started: run "
                   f"`o2cb start-heartbeat {state.name}`")
    return dataclasses.replace(state, problem=problem)


# ---------------------------------------------------------------------------
# Liveness evidence: debugfs node maps and mounted.ocfs2 (pure parsers)

DEBUGFS = "/sys/kernel/debug"


def parse_node_map(text: str) -> tuple[int, ...]:
    """Parse a kernel node map: ``/sys/kernel/debug/o2hb/livenodes`` and
    ``/sys/kernel/debug/o2net/connected_nodes`` print the set node numbers
    separated by spaces, e.g. ``"0 1 \\n"``."""
    return tuple(sorted(int(tok) for tok in text.split() if tok.isdigit()))


@dataclasses.dataclass(frozen=True)
class DlmDomain:
    name: str
    node: int | None
    state: str | None
    domain_map: tuple[int, ...]
    live_map: tuple[int, ...]


def parse_dlm_state(text: str) -> DlmDomain:
    """Parse ``/sys/kernel/debug/o2dlm/<DOMAIN>/dlm_state`` (fs/ocfs2/dlm/dlmdebug.c)::

        Domain: 2A4D1C5E9B8F4C3DA1B2C3D4E5F60718  Len: 32  Key: 0x5d7a1b3c  Protocol: 1.3
        Thread Pid: 2091  Node: 0  State: JOINED
        Number of Joins: 1  Joining Node: 255
        Domain Map: 0 1
        Exit Domain Map:
        Live Map: 0 1
        ...

    The DLM domain of an OCFS2 filesystem is its UUID in upper-case hex.
    """
    def line(label: str) -> str:
        m = re.search(rf"^{label}:(.*)$", text, re.MULTILINE)
        return m.group(1) if m else ""

    domain = re.search(r"^Domain:\s*(\S+)", text, re.MULTILINE)
    thread = re.search(r"Node:\s*(\d+)\s+State:\s*(\S+)", text)
    return DlmDomain(
        name=domain.group(1) if domain else "",
        node=int(thread.group(1)) if thread else None,
        state=thread.group(2) if thread else None,
        domain_map=parse_node_map(line("Domain Map")),
        live_map=parse_node_map(line("Live Map")),
    )


def parse_mounted_full(text: str) -> dict[str, tuple[str, ...]]:
    """Parse ``mounted.ocfs2 -f`` into ``{device: (node, ...)}``.

    The node list comes from the on-disk slot map, so it is the same on every
    node (names resolved through configfs, bare numbers when unknown)::

        Device    Stack  Cluster     F  Nodes
        /dev/vdb  o2cb   labcluster     node1, node2
        /dev/vdc  o2cb   labcluster     Not mounted

    Errors (``Unknown: Bad magic number in inode``) give an empty tuple.
    """
    lines = text.splitlines()
    header = next((i for i, line in enumerate(lines) if line.startswith("Device")), None)
    if header is None:
        return {}
    col = lines[header].find("Nodes")
    result: dict[str, tuple[str, ...]] = {}
    for line in lines[header + 1:]:
        if not line.strip() or not line.startswith("/"):
            continue
        device = line.split()[0]
        nodes = line[col:].strip() if col >= 0 else ""
        if not nodes or nodes in ("Not mounted", "Heartbeat device") or nodes.startswith(
                "Unknown"):
            result[device] = ()
        else:
            result[device] = tuple(n.strip() for n in nodes.split(",") if n.strip())
    return result


def parse_mounted_quick(text: str) -> dict[str, dict[str, str]]:
    """Parse ``mounted.ocfs2 -d``: ``{device: {stack, cluster, flag, uuid, label}}``::

        Device    Stack  Cluster     F  UUID                              Label
        /dev/vdb  o2cb   labcluster     2A4D1C5E9B8F4C3DA1B2C3D4E5F60718  lab0
    """
    result: dict[str, dict[str, str]] = {}
    for line in text.splitlines():
        tokens = line.split()
        if not tokens or not tokens[0].startswith("/"):
            continue
        idx = next((i for i, t in enumerate(tokens) if re.fullmatch(r"[0-9A-Fa-f]{32}", t)),
                   None)
        if idx is None:
            continue
        middle = tokens[1:idx]
        flag = middle.pop() if len(middle) == 3 else ""
        result[tokens[0]] = {
            "stack": middle[0] if middle else "",
            "cluster": middle[1] if len(middle) > 1 else "",
            "flag": flag, "uuid": tokens[idx].upper(), "label": " ".join(tokens[idx + 1:]),
        }
    return result


def read_node_map(path: str) -> tuple[int, ...] | None:
    """Read a debugfs node map; None when debugfs or the file is unavailable."""
    text = _read(path)
    return None if text is None else parse_node_map(text)


def read_dlm_domains(debugfs: str = DEBUGFS) -> dict[str, DlmDomain]:
    """``{domain: DlmDomain}`` for every o2dlm domain this node is in."""
    base = os.path.join(debugfs, "o2dlm")
    domains = {}
    for name in _listdir(base):
        text = _read(os.path.join(base, name, "dlm_state"))
        if text is not None:
            dom = parse_dlm_state(text)
            domains[name] = dataclasses.replace(dom, name=dom.name or name)
    return domains
