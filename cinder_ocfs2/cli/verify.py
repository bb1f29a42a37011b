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
"""``cinder-ocfs2 verify``: the cross-node consistency check as one command.

Write a checksummed pattern on this node (and read it back), then ``--check``
it on another node -- directly there, or from here with ``--peer``.  Any
mismatch exits with 4.  Engines: fio ``--verify=crc32c`` (the operators'
job, scaled by ``--size``) or a built-in verifier when fio is absent.
"""

from __future__ import annotations

import argparse
import os
import stat
from typing import Any

from cinder_ocfs2 import verify
from cinder_ocfs2.cli import common

FILENAME = "cinder-ocfs2-verify.dat"
DESTROY_FLAG = "--destroy-existing-data"
#: Names the driver gives volume and snapshot files (see cinder_ocfs2.manage).
CINDER_PREFIXES = ("volume-", "snapshot-")


def _target(path: str) -> str:
    return os.path.join(path, FILENAME) if os.path.isdir(path) else path


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISBLK, "a block device"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def _refuse_to_destroy(args: argparse.Namespace, path: str) -> None:
    """Refuse a write over data that is not this verb's own pattern file.

    Called before anything is opened for writing (by either engine) or any peer
    is asked; ``--check`` only reads and is always allowed.
    """
    if args.check:
        return
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return  # a new file: nothing to destroy
    names = {os.path.basename(path), os.path.basename(os.path.realpath(path))}
    cinder = next((n for n in sorted(names) if n.startswith(CINDER_PREFIXES)), None)
    regular = stat.S_ISREG(mode)
    own = os.path.basename(path) == FILENAME and not os.path.islink(path)
    if regular and own and not cinder:
        return  # our own pattern file from an earlier run: rewriting it is normal
    if cinder:
        what = "snapshot" if cinder.startswith("snapshot-") else "volume"
        danger = (f"{path} is a Cinder {what} file ({cinder}): writing the test pattern "
                  f"would destroy that {what}'s data")
    elif not regular:
        danger = (f"{path} is {_kind(mode)}: writing the test pattern would overwrite the "
                  f"data on it{' (on a shared LUN: for every node)' if stat.S_ISBLK(mode) else ''}")
    else:
        danger = f"{path} already exists: writing the test pattern would overwrite its data"
    if args.destroy_existing_data:
        common.say(f"{DESTROY_FLAG}: {danger}; going ahead")
        return
    raise common.Refused(
        f"{danger}. Point verify at a directory on the shared filesystem (it writes "
        f"DIR/{FILENAME}) or at a new file, use --check to only read an earlier pattern, "
        f"or pass {DESTROY_FLAG} if that data may really be destroyed")


def _progress(label: str):  # type: ignore[no-untyped-def]
    last = [-1]

    def report(done: int, total: int) -> None:
        pct = done * 100 // total if total else 100
        if pct // 10 != last[0]:
            last[0] = pct // 10
            common.say(f"{label}: {pct}% ({common.human_bytes(done)} of "
                       f"{common.human_bytes(total)})")
    return report


def _engine(args: argparse.Namespace) -> str:
    if args.engine == "auto":
        return "fio" if verify.fio_available() else "builtin"
    if args.engine == "fio" and not verify.fio_available():
        raise common.CliError("fio is not installed: install it or use --engine builtin")
    return str(args.engine)


def _local(args: argparse.Namespace, path: str, size: int) -> list[verify.Report]:
    engine = _engine(args)
    reports = []
    if engine == "fio":
        if not args.check:
            common.say(f"fio: writing and verifying {common.human_bytes(size)} at {path}")
            reports.append(verify.fio_run(path, size, bs=args.bs))
        else:
            common.say(f"fio: verifying {path} (verify_only)")
            reports.append(verify.fio_run(path, size, bs=args.bs, check=True))
        return reports
    direct = not args.buffered
    if not args.check:
        seed, written = verify.builtin_write(path, size, bs=args.bs, seed=args.seed,
                                             direct=direct, progress=_progress("write"))
        reports.append(written)
        args.seed = seed
    reports.append(verify.builtin_check(path, bs=args.bs, seed=args.seed,
                                        size=size if not args.check or args.size else None,
                                        direct=direct, progress=_progress("check")))
    return reports


def _print(node: str, r: dict[str, Any]) -> None:
    rate = (f"write {r['write_mib_s']:.1f} MiB/s" if r["mode"] == "write" and
            r["written_bytes"] else "")
    if r["read_bytes"]:
        rate = ", ".join(x for x in (rate, f"read {r['read_mib_s']:.1f} MiB/s") if x)
    status = "OK" if r["ok"] else f"MISMATCH: {r['mismatches']} bad block(s)"
    print(f"[{node}] {r['engine']} {r['mode']} {r['path']} "
          f"({common.human_bytes(r['size'])}, bs {r['block_size']}"
          f"{', O_DIRECT' if r.get('direct') else ''}): {rate}: {status}")
    for b in r.get("bad_blocks", []):
        print(f"    offset {b['offset']}: {b['reason']}")


def run(args: argparse.Namespace) -> int:
    path = _target(args.path)
    _refuse_to_destroy(args, path)
    size = verify.parse_size(args.size) if args.size else verify.DEFAULT_SIZE
    if args.check and not args.size and _engine(args) == "fio":
        size = os.stat(path).st_size
    results: list[tuple[str, dict[str, Any]]] = []
    here = os.uname().nodename.split(".")[0]
    for r in _local(args, path, size):
        results.append((here, r.as_dict()))
    for name, prefix in args.peer:
        common.say(f"checking {path} on {name}")
        cmd = ["verify", path, "--check", "--json", "--engine", _engine(args),
               "--bs", str(args.bs), "--size", str(size)]
        if args.seed is not None:
            cmd += ["--seed", str(args.seed)]
        remote = common.run_remote_json(prefix, common.remote_cli(args), cmd,
                                        timeout=args.timeout)
        for r in remote.get("reports", []):
            results.append((name, r))
    ok = all(r["ok"] for _, r in results)
    if args.json:
        common.print_json({"ok": ok, "seed": args.seed,
                           "reports": [{**r, "node": n} for n, r in results]})
    else:
        for node, r in results:
            _print(node, r)
        if args.seed is not None and not args.check:
            print(f"seed {args.seed}: check elsewhere with `cinder-ocfs2 verify {path} --check`")
    return common.EXIT_OK if ok else common.EXIT_MISMATCH


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "verify", help="write a checksummed pattern here, verify it here and on other nodes",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
               "  node1# cinder-ocfs2 verify /var/lib/cinder/ocfs2/lab0 --size 256M\n"
               "  node2# cinder-ocfs2 verify /var/lib/cinder/ocfs2/lab0 --check\n"
               "  node1# cinder-ocfs2 verify /var/lib/cinder/ocfs2/lab0 "
               "--peer node2='ssh node2'\n\n" + common.EXIT_CODES_HELP)
    p.add_argument("path", help=f"a file, or a directory on the shared filesystem (the file "
                                f"is DIR/{FILENAME})")
    p.add_argument("--check", action="store_true",
                   help="only verify what an earlier run wrote (e.g. on another node)")
    p.add_argument(DESTROY_FLAG, action="store_true",
                   help="write even over an existing file, a Cinder volume-*/snapshot-* file "
                        "or a block device (default: refuse); DESTROYS the data on it")
    p.add_argument("--size", help="how much to write (default 64M; fio jobs must use the "
                                  "same size for --check)")
    p.add_argument("--bs", type=int, default=verify.DEFAULT_BS, help="block size in bytes")
    p.add_argument("--engine", choices=("auto", "fio", "builtin"), default="auto",
                   help="fio --verify=crc32c, or the built-in verifier (default: fio when "
                        "installed)")
    p.add_argument("--seed", type=int, help="builtin: pattern seed (default: random on write, "
                                            "read from the file on --check)")
    p.add_argument("--buffered", action="store_true",
                   help="builtin: no O_DIRECT (the page cache is dropped before checking)")
    p.add_argument("--json", action="store_true", help="machine-readable report")
    p.add_argument("--timeout", type=float, default=3600.0, help=argparse.SUPPRESS)
    common.add_peer_args(p)
    p.set_defaults(func=run)
