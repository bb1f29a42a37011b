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
"""``cinder-ocfs2 status``: the cluster and its OCFS2 filesystems, as seen from here.

Cluster: name, heartbeat mode, nodes (number, address) and which are up --
heartbeating on disk (``o2hb/livenodes``) and connected over o2net
(``o2net/connected_nodes``).  Filesystems: label, UUID, mount point, the
nodes mounting it (on-disk slot map via ``mounted.ocfs2 -f``), DLM domain
members, slots used/max, size, free, refcount, mount options.  Then whether
cluster.conf matches the live cluster and the filesystems' view of it.
"""

from __future__ import annotations

import argparse
from typing import Any

from cinder_ocfs2.cli import common, facts


def summarize(f: dict[str, Any]) -> dict[str, Any]:
    """The status document (``--json``) built from one node's facts."""
    live = f.get("configfs", {})
    heartbeating = f.get("o2hb_livenodes")
    connected = f.get("o2net_connected")
    nodes = []
    for n in live.get("nodes", []):
        up = None
        if n.get("local"):
            up = live.get("online", False)
        elif heartbeating is not None or connected is not None:
            up = n["number"] in (heartbeating or []) or n["number"] in (connected or [])
        nodes.append({**n, "heartbeating": None if heartbeating is None
                      else n["number"] in heartbeating,
                      "connected": None if connected is None or n.get("local")
                      else n["number"] in connected, "up": up})
    names = {n["number"]: n["name"] for n in live.get("nodes", [])}
    conf_nodes = {n["name"] for c in (f.get("cluster_conf", {}).get("clusters") or {}).values()
                  for n in c["nodes"]}
    filesystems = []
    problems = []
    for fs in f.get("filesystems", []):
        mounted_on = fs.get("mounted_on")
        dlm = fs.get("dlm_domain_map")
        entry = {
            "label": fs.get("label"), "uuid": fs.get("uuid"),
            "mount_point": fs["mount_point"], "device": fs.get("device"),
            "mounted_on": mounted_on,
            "dlm_members": None if dlm is None else [names.get(i, str(i)) for i in dlm],
            "slots_used": None if mounted_on is None else len(mounted_on),
            "slots_max": fs.get("slots"), "size_bytes": fs.get("size_bytes"),
            "free_bytes": fs.get("free_bytes"), "refcount": fs.get("has_refcount"),
            "read_only": fs.get("read_only"),
            "options": ",".join(k if v is None else f"{k}={v}"
                                for k, v in {**fs.get("options", {}),
                                             **fs.get("super_options", {})}.items()),
        }
        if fs.get("error"):
            entry["error"] = fs["error"]
        filesystems.append(entry)
        unknown = sorted(set(mounted_on or []) - conf_nodes)
        if unknown and conf_nodes:
            problems.append(f"{entry['label']} is mounted by {', '.join(unknown)}, "
                            "unknown to cluster.conf")
        if fs.get("read_only"):
            problems.append(f"{entry['label']} is mounted read-only")
    diffs = facts.conf_vs_configfs(f)
    if live.get("problem"):
        problems.insert(0, live["problem"])
    problems.extend(f"cluster.conf vs live cluster: {d}" for d in diffs)
    return {
        "hostname": f.get("hostname"),
        "cluster": {"name": live.get("name"), "registered": live.get("registered"),
                    "online": live.get("online"), "heartbeat_mode": live.get("heartbeat_mode"),
                    "local_node": live.get("local_node"), "timeouts": live.get("timeouts"),
                    "heartbeat_regions": live.get("heartbeat_regions")},
        "nodes": nodes,
        "filesystems": filesystems,
        "cluster_conf_sha256": f.get("cluster_conf", {}).get("sha256"),
        "cluster_conf_matches": not diffs and not any("unknown to cluster.conf" in p
                                                      for p in problems),
        "problems": problems,
    }


def _yes(value: bool | None) -> str:
    return "?" if value is None else ("yes" if value else "no")


def render(s: dict[str, Any]) -> str:
    c = s["cluster"]
    out = [f"cluster {c['name'] or '-'}: "
           f"{'online' if c['online'] else 'OFFLINE'}, heartbeat {c['heartbeat_mode'] or '-'}, "
           f"this node {c['local_node'] or '-'} ({s['hostname']})"]
    if c.get("timeouts"):
        out.append("timeouts: " + ", ".join(f"{k}={v}" for k, v in sorted(c["timeouts"].items())))
    out.append("")
    out.append(common.table(
        ["NODE", "NUM", "ADDRESS", "LOCAL", "HEARTBEAT", "O2NET", "UP"],
        [[n["name"], n["number"], f"{n['ip']}:{n['port']}", "*" if n.get("local") else "",
          _yes(n["heartbeating"]), "-" if n.get("local") else _yes(n["connected"]),
          _yes(n["up"])] for n in s["nodes"]]))
    out.append("")
    if s["filesystems"]:
        out.append(common.table(
            ["LABEL", "UUID", "MOUNT POINT", "MOUNTED ON", "DLM MEMBERS", "SLOTS", "SIZE",
             "FREE", "REFCOUNT"],
            [[fs["label"] or "?", fs["uuid"] or "?", fs["mount_point"],
              ",".join(fs["mounted_on"]) if fs["mounted_on"] is not None else "?",
              ",".join(fs["dlm_members"]) if fs["dlm_members"] is not None else "?",
              f"{fs['slots_used'] if fs['slots_used'] is not None else '?'}/"
              f"{fs['slots_max'] or '?'}",
              common.human_bytes(fs["size_bytes"]), common.human_bytes(fs["free_bytes"]),
              _yes(fs["refcount"])] for fs in s["filesystems"]]))
        for fs in s["filesystems"]:
            out.append(f"  {fs['label']}: {fs['options']}")
    else:
        out.append("no OCFS2 filesystem mounted")
    out.append("")
    out.append(f"cluster.conf {(s['cluster_conf_sha256'] or 'missing')[:12]}: "
               f"{'matches' if s['cluster_conf_matches'] else 'DOES NOT MATCH'} the live "
               "cluster and the filesystems' slot maps")
    for p in s["problems"]:
        out.append(f"problem: {p}")
    return "\n".join(out)


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "status", help="show the cluster, its nodes and the OCFS2 filesystems",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  cinder-ocfs2 status\n  cinder-ocfs2 status --json\n\n"
               + common.EXIT_CODES_HELP)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--base", default=facts.DEFAULT_BASE,
                   help="where the driver's filesystems are mounted (default: %(default)s)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    s = summarize(facts.gather(base=args.base, probe_ports=False))
    if args.json:
        common.print_json(s)
    else:
        print(render(s))
    return common.EXIT_PROBLEMS if s["problems"] else common.EXIT_OK
