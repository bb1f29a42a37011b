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
"""``cinder-ocfs2 node add|remove``: change o2cb membership on every node, in order.

The plan (see :mod:`cinder_ocfs2.o2cb`) is computed from the facts each node
reports, so a half-finished run can simply be repeated.  Nodes are reached
through ``--peer NAME=PREFIX``; this machine takes part unless ``--no-local``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any

from cinder_ocfs2 import cluster, executor, o2cb
from cinder_ocfs2.cli import common, facts

HELP_EPILOG = """\
heartbeat modes and online changes:
  local   adding a node is online; removing one is online once it mounts nothing
          and has left every DLM domain (it is refused otherwise); changing a
          node's address/number needs the cluster offline everywhere.
  global  adding and removing are online (o2cb(7)); every node must get the same
          cluster.conf before new mounts are allowed.

never run `o2cb remove-cluster`, `/etc/init.d/o2cb unload|stop` on the remaining
nodes to remove one node: that unregisters the whole cluster there and every mount
then fails with "mount.ocfs2: Internal logic failure while trying to join the group".

examples:
  cinder-ocfs2 node add node3 --ip 10.0.0.13 --peer node2='ssh node2' \\
      --peer node3='ssh node3' --dry-run
  cinder-ocfs2 node remove node3 --peer node2='ssh node2' --peer node3='ssh node3' --yes
"""


WAIT_STEP = 5  # seconds between looks at a removed node's heartbeat
_sleep = time.sleep


def gather_members(args: argparse.Namespace) -> dict[str, tuple[tuple[str, ...], dict[str, Any]]]:
    """``{node name: (command prefix, facts)}`` for this machine and every peer."""
    members: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {}
    if not args.no_local:
        common.say("gathering this node's facts")
        local = facts.gather(base=args.base, probe_ports=False)
        members[local["hostname"]] = ((), local)
    for name, prefix in args.peer:
        if name in members:
            continue
        common.say(f"gathering facts from {name}")
        remote = common.run_remote_json(prefix, common.remote_cli(args),
                                        ["doctor", "--facts", "--no-port-probe",
                                         "--base", args.base])
        if remote.get("hostname") != name:
            common.say(f"warning: {name} reports hostname {remote.get('hostname')!r}; the "
                       "o2cb node name must equal the hostname")
        members[name] = (prefix, remote)
    if not members:
        raise common.CliError("no nodes to work with: drop --no-local or give --peer")
    return members


def cluster_name(args: argparse.Namespace, confs: dict[str, Any]) -> str:
    if args.cluster:
        return str(args.cluster)
    names = {n for conf in confs.values() if conf for n in conf}
    if len(names) != 1:
        raise common.Refused(f"cannot tell which cluster to change (found: "
                             f"{', '.join(sorted(names)) or 'none'}): pass --cluster NAME")
    return names.pop()


def member_timeouts(members: dict[str, tuple[tuple[str, ...], dict[str, Any]]],
                    exclude: str) -> dict[str, int] | None:
    """The live o2cb timeouts of the existing members; they must agree."""
    seen = {json.dumps(f["configfs"]["timeouts"], sort_keys=True): f["configfs"]["timeouts"]
            for name, (_, f) in members.items()
            if name != exclude and (f.get("configfs") or {}).get("timeouts")}
    if len(seen) > 1:
        raise common.Refused("the members' o2cb timeouts differ: make them uniform first "
                             "(`cinder-ocfs2 doctor` shows them)")
    return next(iter(seen.values()), None)


def _print_plan(plan: o2cb.Plan, as_json: bool) -> None:
    if as_json:
        common.print_json(plan.as_dict())
        return
    print(f"plan: {plan.action} in cluster {plan.cluster}, {len(plan.steps)} step(s)")
    for i, step in enumerate(plan.steps, 1):
        print(f"  {i:2}. {step}")
    for note in plan.notes:
        print(f"note: {note}")


def _execute(args: argparse.Namespace, plan: o2cb.Plan,
             members: dict[str, tuple[tuple[str, ...], dict[str, Any]]]) -> None:
    prefixes = {name: prefix for name, (prefix, _) in members.items()}
    try:
        o2cb.apply(plan, prefixes, progress=lambda i, n, s: common.say(f"[{i}/{n}] {s}"))
    except o2cb.PlanError as exc:
        raise common.Refused(str(exc)) from exc


def run_add(args: argparse.Namespace) -> int:
    members = gather_members(args)
    confs = {name: facts.conf_from_facts(f) for name, (_, f) in members.items()}
    name = cluster_name(args, confs)
    ref = next((c[name] for c in confs.values() if c and name in c), None)
    number = args.number if args.number is not None else (
        o2cb.next_free_number(ref) if ref else 0)
    new = cluster.Node(args.name, number, args.ip, args.port)
    slots = {fs.get("label") or fs["mount_point"]: (fs["slots"], len(fs.get("mounted_on") or []))
             for _, f in members.values() for fs in f.get("filesystems", []) if fs.get("slots")}
    try:
        plan = o2cb.plan_add_node(name, new, confs, slots=slots,
                                  timeouts=member_timeouts(members, new.name))
    except o2cb.PlanError as exc:
        raise common.Refused(str(exc)) from exc
    _print_plan(plan, args.json)
    if args.dry_run:
        return common.EXIT_OK
    common.confirm(f"add {new.name} (node {new.number}, {new.ip}:{new.port}) to {name}?",
                   args.yes)
    _execute(args, plan, members)
    common.say(f"{new.name} added to {name}")
    if args.mount and new.name in members:
        prefix, _ = members[new.name]
        # same mount point as on the members (base = its parent directory)
        where = {fs["uuid"]: os.path.dirname(fs["mount_point"])
                 for n, (_, f) in members.items() if n != new.name
                 for fs in f.get("filesystems", []) if fs.get("uuid")}
        for uuid, base in sorted(where.items()):
            common.say(f"mounting {uuid} on {new.name} under {base}")
            cmd = common.remote_argv(prefix, common.remote_cli(args), [
                "disk", "add", f"UUID={uuid}", "--base", base, "--yes"])
            executor.run(cmd, timeout=600)
    return common.EXIT_OK


def _remove_plan(args: argparse.Namespace
                 ) -> tuple[o2cb.Plan, str, dict[str, tuple[tuple[str, ...], dict[str, Any]]]]:
    members = gather_members(args)
    confs = {name: facts.conf_from_facts(f) for name, (_, f) in members.items()}
    name = cluster_name(args, confs)
    mounting: dict[str, set[str]] = {}
    dlm: dict[str, set[int]] = {}
    live: set[int] = set()
    have_live = False
    for node_name, (_, f) in members.items():
        for fs in f.get("filesystems", []):
            key = fs.get("label") or fs["mount_point"]
            mounting.setdefault(key, set()).update(fs.get("mounted_on") or [])
            if node_name == args.name:
                mounting[key].add(args.name)
        for domain, d in (f.get("dlm_domains") or {}).items():
            dlm.setdefault(domain, set()).update(d.get("domain_map") or [])
        if f.get("o2hb_livenodes") is not None:
            have_live = True
            live.update(f["o2hb_livenodes"])
    plan = o2cb.plan_remove_node(name, args.name, confs, mounting=mounting,
                                 dlm_members=dlm, live=live if have_live else None)
    return plan, name, members


def run_remove(args: argparse.Namespace) -> int:
    deadline = time.monotonic() + args.wait
    while True:
        try:
            plan, name, members = _remove_plan(args)
            break
        except o2cb.StillHeartbeating as exc:
            # a node that has just unmounted stays "live" on its peers until
            # they miss dead_threshold heartbeats: that ends by itself
            if time.monotonic() >= deadline:
                raise common.Refused(f"{exc} (waited {args.wait} s; raise --wait to "
                                     "wait longer)") from exc
            common.say(f"{args.name} is idle but its heartbeat has not timed out on "
                       f"every peer yet; checking again in {WAIT_STEP} s")
            _sleep(WAIT_STEP)
        except o2cb.PlanError as exc:
            raise common.Refused(str(exc)) from exc
    _print_plan(plan, args.json)
    if args.dry_run:
        return common.EXIT_OK
    common.confirm(f"remove {args.name} from {name}?", args.yes)
    _execute(args, plan, members)
    common.say(f"{args.name} removed from {name}")
    return common.EXIT_OK


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("node", help="add or remove an o2cb cluster node (online where allowed)",
                       description=__doc__, epilog=HELP_EPILOG + "\n" + common.EXIT_CODES_HELP,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    nsub = p.add_subparsers(dest="action", required=True, metavar="ACTION")

    def common_args(q: argparse.ArgumentParser) -> None:
        q.add_argument("name", help="the node name (= its short hostname)")
        q.add_argument("--cluster", help="cluster name (default: the one in cluster.conf)")
        q.add_argument("--dry-run", action="store_true", help="print the plan and stop")
        q.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
        q.add_argument("--json", action="store_true", help="print the plan as JSON")
        q.add_argument("--no-local", action="store_true",
                       help="this machine is not a cluster node (reach all nodes via --peer)")
        q.add_argument("--base", default=facts.DEFAULT_BASE, help=argparse.SUPPRESS)
        common.add_peer_args(q)

    a = nsub.add_parser("add", help="add a node to every node's cluster.conf and configfs",
                        epilog=HELP_EPILOG + "\n" + common.EXIT_CODES_HELP,
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    common_args(a)
    a.add_argument("--ip", required=True, help="the node's o2net (interconnect) IPv4 address")
    a.add_argument("--port", type=int, default=cluster.DEFAULT_PORT,
                   help="o2net port (default: %(default)s)")
    a.add_argument("--number", type=int, help="node number (default: lowest free)")
    a.add_argument("--no-mount", dest="mount", action="store_false",
                   help="do not mount the cluster's filesystems on the new node afterwards")
    a.set_defaults(func=run_add)
    r = nsub.add_parser("remove", help="remove an idle node from every node's configuration",
                        epilog=HELP_EPILOG + "\n" + common.EXIT_CODES_HELP,
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    common_args(r)
    r.add_argument("--wait", type=int, default=90, metavar="SECONDS",
                   help="how long to wait for an idle node's heartbeat to time out on its "
                        "peers (o2cb's dead_threshold; default: %(default)s)")
    r.set_defaults(func=run_remove)
