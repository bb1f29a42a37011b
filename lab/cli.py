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
"""``python -m lab``: the lab's command line."""

from __future__ import annotations

import argparse
import json
import sys
import time

from lab import config, image
from lab.lab import Lab


def cmd_up(args: argparse.Namespace) -> int:
    lab = Lab()
    if lab.is_up() and not args.fresh and lab.state.nodes == args.nodes:
        print(f"lab: already up with {lab.state.nodes} node(s) (use --fresh to rebuild)")
        return 0
    t0 = time.monotonic()
    lab.up(nodes=args.nodes, disk_size=args.disk_size)
    print(json.dumps({k: round(v, 1) for k, v in lab.timings.items()}
                     | {"total": round(time.monotonic() - t0, 1)}))
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    Lab().down()
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    status = Lab().status()
    print(json.dumps(status, indent=2))
    return 0 if status["nodes"] and all(n["running"] for n in status["nodes"].values()) else 1


def cmd_exec(args: argparse.Namespace) -> int:
    argv: list[str] = args.cmd
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv:
        print("lab exec: no command", file=sys.stderr)
        return 2
    cmd: list[str] | str = argv[0] if len(argv) == 1 else argv
    node = Lab().node(args.node)
    if args.background:
        print(node.spawn(cmd, log=args.log))
        return 0
    result = node.exec(cmd, timeout=args.timeout)
    sys.stdout.buffer.write(result.stdout_bytes)
    sys.stderr.buffer.write(result.stderr_bytes)
    return result.rc


def cmd_add_disk(args: argparse.Namespace) -> int:
    disk = Lab().add_disk(label=args.label, size=args.size, format=args.format, mount=args.mount)
    print(disk.label)
    return 0


def cmd_kill(args: argparse.Namespace) -> int:
    Lab().kill(args.node)
    return 0


def cmd_start(args: argparse.Namespace) -> int:
    print(f"lab: {args.node} back in {Lab().start(args.node):.0f}s")
    return 0


def cmd_image(args: argparse.Namespace) -> int:
    t0 = time.monotonic()
    img = image.build(force=args.force)
    print(f"{img.dir} ({time.monotonic() - t0:.0f}s)")
    return 0


def cmd_record_fixtures(args: argparse.Namespace) -> int:
    from lab import record

    lab = Lab()
    if not lab.is_up():
        lab.up(nodes=2)
    for path in record.record_all(lab, args.out):
        print(path)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    return cmd_up(args)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m lab", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    def add(name: str, fn: object, help: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help)
        sp.set_defaults(fn=fn)
        return sp

    for name, fn, help in (("up", cmd_up, "boot the nodes, form the cluster, mount the disk"),
                           ("demo", cmd_demo, "bring the lab up (the demo builds on it)")):
        sp = add(name, fn, help)
        sp.add_argument("--nodes", type=int, default=2)
        sp.add_argument("--disk-size", default=config.DEFAULT_DISK_SIZE)
        sp.add_argument("--fresh", action="store_true", help="rebuild even if up")
    add("down", cmd_down, "power everything off, delete nodes, disks and the netns")
    add("status", cmd_status, "show nodes, their OCFS2 mounts")
    sp = add("exec", cmd_exec, "run a command on a node, exit with its rc")
    sp.add_argument("--timeout", type=float, default=600)
    sp.add_argument("--background", "-b", action="store_true",
                    help="start detached, print the pid (output to --log)")
    sp.add_argument("--log", default="/dev/null")
    sp.add_argument("node")
    sp.add_argument("cmd", nargs=argparse.REMAINDER)
    sp = add("add-disk", cmd_add_disk, "hot-attach a new shared disk to every running node")
    sp.add_argument("--size", default="2G")
    sp.add_argument("--label")
    sp.add_argument("--format", action="store_true", help="mkfs.ocfs2 it (on the first node)")
    sp.add_argument("--mount", action="store_true", help="format and mount on every node")
    add("kill", cmd_kill, "hard power-off a node").add_argument("node")
    add("start", cmd_start, "boot a killed node again and rejoin").add_argument("node")
    add("image", cmd_image, "build the node image (cached)").add_argument(
        "--force", action="store_true")
    add("record-fixtures", cmd_record_fixtures, "re-record tests/fixtures/recorded").add_argument(
        "--out", default=str(config.REPO_ROOT / "tests" / "fixtures" / "recorded"))
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return int(args.fn(args))
