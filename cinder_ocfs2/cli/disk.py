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
"""``cinder-ocfs2 disk add DEVICE``: format (or adopt) a shared disk and mount it.

* An OCFS2 disk of this cluster is adopted as it is; anything else holding a
  signature (``wipefs --no-act``) is refused unless ``--force``.
* Formatting uses the running cluster's stack and name, the refcount feature
  (reflink clones), node slots with headroom and the given label.
* It is mounted at ``<base>/<label>`` with the production options and gets an
  fstab entry by ``UUID=`` (device names differ between nodes) with
  ``_netdev``.  ``--peer`` repeats the adoption on other nodes.

The driver rescans mounts under ``<base>`` at every stats update, so the new
filesystem becomes a pool without restarting cinder-volume.
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import stat
from typing import Any

from cinder_ocfs2 import cluster, executor, fsinfo, mountinfo
from cinder_ocfs2.cli import common, facts

MOUNT_OPTIONS = ("rw,relatime,_netdev,heartbeat={heartbeat},nointr,data=ordered,"
                 "errors=remount-ro,atime_quantum=60,coherency=full,user_xattr,acl")
FSTAB = "/etc/fstab"
MIN_SLOTS = 4
SLOT_HEADROOM = 2
FEATURES = "refcount,xattr"


def parse_wipefs_json(text: str) -> list[dict[str, str]]:
    """Parse ``wipefs --no-act --json DEVICE`` (util-linux 2.38)::

        {"signatures": [{"device": "vdb", "offset": "0x800", "type": "ocfs2",
                         "uuid": "52b8287d-...", "label": "t2"}]}

    An empty device prints ``{"signatures": []}`` (or nothing, on old versions).
    """
    if not text.strip():
        return []
    return list(json.loads(text).get("signatures") or [])


def mount_options(heartbeat_mode: str | None) -> str:
    return MOUNT_OPTIONS.format(heartbeat=heartbeat_mode or "local")


def fstab_line(uuid: str, mount_point: str, options: str) -> str:
    return f"UUID={uuid}\t{mount_point}\tocfs2\t{options}\t0 0\n"


def merge_fstab(text: str, uuid: str, mount_point: str, options: str) -> str | None:
    """fstab text with the entry added; None when an identical entry exists.

    Raises :class:`common.Refused` when ``mount_point`` is taken by another
    filesystem.
    """
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 2 or fields[0].startswith("#"):
            continue
        if fields[1] == mount_point:
            if fields[0].upper() == f"UUID={uuid}".upper():
                return None
            raise common.Refused(f"/etc/fstab already mounts {fields[0]} at {mount_point}: "
                                 "choose another --label or fix fstab")
    sep = "" if not text or text.endswith("\n") else "\n"
    return text + sep + fstab_line(uuid, mount_point, options)


def write_fstab(path: str, uuid: str, mount_point: str, options: str) -> bool:
    """Add the entry atomically (temp file + fsync + rename); False if present."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        mode = os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        text, mode = "", 0o644
    new = merge_fstab(text, uuid, mount_point, options)
    if new is None:
        return False
    tmp = os.path.join(os.path.dirname(path) or ".", f".tmp-{os.path.basename(path)}-"
                       f"{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(new)
        f.flush()
        os.fsync(f.fileno())
    os.chmod(tmp, mode)
    os.replace(tmp, path)
    return True


def resolve(device: str) -> str:
    """``UUID=...``/``LABEL=...`` -> the local /dev path; plain paths must be block devices."""
    if device.upper().startswith(("UUID=", "LABEL=")):
        result = executor.run(["blkid", "-o", "device", "-t", device], timeout=30, check=False)
        path = result.stdout.strip().splitlines()
        if result.returncode != 0 or not path:
            raise common.CliError(f"no device with {device} is visible on this node: check that "
                                  "the disk is attached here (rescan the bus, e.g. "
                                  "`echo '- - -' > /sys/class/scsi_host/hostN/scan`)")
        return path[0]
    try:
        mode = os.stat(device).st_mode
    except OSError as exc:
        raise common.CliError(f"{device}: {exc.strerror}") from exc
    if not stat.S_ISBLK(mode):
        raise common.Refused(f"{device} is not a block device")
    return device


def device_number(device: str) -> tuple[int, int]:
    rdev = os.stat(device).st_rdev
    return os.major(rdev), os.minor(rdev)


def probe(device: str) -> dict[str, Any]:
    """What the device holds: signatures, OCFS2 identity and who mounts it."""
    sigs = parse_wipefs_json(executor.run(["wipefs", "--no-act", "--json", device],
                                          timeout=30).stdout)
    info: dict[str, Any] = {"signatures": sigs}
    if any(s.get("type") == "ocfs2" for s in sigs):
        blk = executor.run(["blkid", "-p", "-o", "export", device], timeout=30, check=False)
        tags = (fsinfo.parse_blkid_export(blk.stdout) or [{}])[0]
        info["uuid"] = tags.get("UUID")
        info["label"] = tags.get("LABEL")
        quick = cluster.parse_mounted_quick(
            executor.run(["mounted.ocfs2", "-d", device], timeout=30, check=False).stdout)
        info["stack"] = quick.get(device, {})
        full = cluster.parse_mounted_full(
            executor.run(["mounted.ocfs2", "-f", device], timeout=30, check=False).stdout)
        info["mounted_on"] = list(full.get(device, ()))
    return info


def _plan(args: argparse.Namespace, device: str, found: dict[str, Any],
          state: cluster.ClusterState) -> tuple[str, list[list[str]], str]:
    """(label, commands, action) for this node; action is "format" or "adopt"."""
    sigs = found["signatures"]
    is_ocfs2 = any(s.get("type") == "ocfs2" for s in sigs)
    if is_ocfs2 and not args.force:
        stack = found.get("stack") or {}
        if stack.get("cluster") and stack["cluster"] != state.name:
            raise common.Refused(
                f"{device} is OCFS2 of cluster {stack['cluster']!r}, this node runs "
                f"{state.name!r}: convert it with `tunefs.ocfs2 --update-cluster-stack "
                f"{device}` (unmounted everywhere) or pass --force to reformat")
        label = found.get("label") or ""
        if args.label and args.label != label:
            raise common.Refused(f"{device} is OCFS2 labelled {label!r}, not {args.label!r}: "
                                 "drop --label to adopt it as it is")
        if not label:
            raise common.Refused(f"{device} has no label: set one with `tunefs.ocfs2 -L NAME "
                                 f"{device}`")
        return label, [], "adopt"
    if sigs and not args.force:
        kinds = ", ".join(f"{s.get('type')} at {s.get('offset')}" for s in sigs)
        raise common.Refused(f"{device} holds data ({kinds}); refusing to format it: pass "
                             "--force if it really is free")
    if is_ocfs2 and found.get("mounted_on"):
        raise common.Refused(f"{device} is mounted on {', '.join(found['mounted_on'])}: "
                             "unmount it everywhere before reformatting")
    if not args.label:
        raise common.Refused("formatting needs --label NAME (the mount point becomes "
                             f"{args.base}/NAME)")
    slots = args.slots or max(MIN_SLOTS, len(state.nodes) + SLOT_HEADROOM)
    mkfs = ["mkfs.ocfs2", "-q", "-L", args.label, "-N", str(slots), "-b", "4K",
            "--cluster-stack=o2cb", f"--cluster-name={state.name}",
            f"--fs-features={FEATURES}"]
    if state.heartbeat_mode == "global":
        mkfs.append("--global-heartbeat")
    if args.cluster_size:
        mkfs += ["-C", args.cluster_size]
    if args.force:
        mkfs.append("-F")
    return args.label, [[*mkfs, device]], "format"


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def run_add(args: argparse.Namespace) -> int:
    state = cluster.read_state()
    if not state.online:
        raise common.Refused(f"the o2cb cluster is not online here: {state.problem}")
    device = resolve(args.device)
    majmin = device_number(device)
    here = [m for m in mountinfo.read() if m.fstype == "ocfs2" and m.major_minor == majmin]
    common.say(f"probing {device}")
    found = probe(device)
    if here:
        label = found.get("label") or os.path.basename(here[0].mount_point)
        commands: list[list[str]] = []
        action = "adopt"
    else:
        label, commands, action = _plan(args, device, found, state)
    mount_point = os.path.join(args.base, label)
    options = mount_options(state.heartbeat_mode)
    if here and here[0].mount_point != mount_point:
        raise common.Refused(f"{device} is already mounted at {here[0].mount_point}, not "
                             f"{mount_point}")
    if not here:
        commands.append(["mount", "-t", "ocfs2", "-o", options, device, mount_point])
    if action == "format" and _user_exists(args.owner):
        # a new filesystem's root is root's: hand it to the volume services' user
        commands.append(["chown", f"{args.owner}:", mount_point])
    if args.dry_run or not args.yes or args.json:
        plan = {"device": device, "action": action, "label": label,
                "mount_point": mount_point, "options": options, "commands": commands,
                "fstab": None if args.no_fstab else fstab_line(
                    found.get("uuid") or "<new uuid>", mount_point, options).strip(),
                "peers": [name for name, _ in args.peer]}
        if args.json:
            common.print_json(plan)
        else:
            print(f"plan: {action} {device} as {label!r}, mount at {mount_point}")
            for cmd in commands:
                print(f"  {' '.join(cmd)}")
            if plan["fstab"]:
                print(f"  fstab: {plan['fstab']}")
            for name in plan["peers"]:
                print(f"  then on {name}: cinder-ocfs2 disk add UUID=... --yes")
    if args.dry_run:
        return common.EXIT_OK
    if action == "format":
        common.confirm(f"format {device} as OCFS2 {label!r}? everything on it is lost",
                       args.yes)
    else:
        common.confirm(f"mount {device} ({label}) at {mount_point}?", args.yes)
    for cmd in commands:
        if cmd[0] == "mount":
            os.makedirs(mount_point, exist_ok=True)
            common.say(f"mounting {device} at {mount_point}")
        elif cmd[0] == "chown":
            common.say(f"handing {mount_point} to {args.owner}")
        else:
            common.say(f"formatting {device}: {' '.join(cmd)}")
        executor.run(cmd, timeout=args.timeout)
    uuid = found.get("uuid")
    if action == "format" or not uuid:
        tags = fsinfo.parse_blkid_export(
            executor.run(["blkid", "-p", "-o", "export", device], timeout=30).stdout)
        uuid = (tags or [{}])[0].get("UUID")
    if not args.no_fstab and uuid:
        if write_fstab(args.fstab, uuid, mount_point, options):
            common.say(f"added {mount_point} to {args.fstab}")
    common.say(f"{label} ({uuid}) mounted at {mount_point} on this node")
    for name, prefix in args.peer:
        if not prefix:
            continue
        common.say(f"adopting {label} on {name}")
        executor.run(common.remote_argv(prefix, common.remote_cli(args), [
            "disk", "add", f"UUID={uuid}", "--base", args.base, "--yes"]),
            timeout=args.timeout)
    if not args.json:
        print(f"{label} {uuid} {mount_point}")
    return common.EXIT_OK


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("disk", help="onboard a shared disk (format or adopt, mount, fstab)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    dsub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    a = dsub.add_parser(
        "add", help="format or adopt DEVICE and mount it at BASE/LABEL",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  cinder-ocfs2 disk add /dev/sdc --label 192.168.10.91_sdc --dry-run\n"
               "  cinder-ocfs2 disk add /dev/sdc --label data1 --yes --peer node2='ssh node2'\n"
               "  cinder-ocfs2 disk add UUID=52b8287d-7863-4c96-8c16-431898cf09ad --yes\n\n"
               + common.EXIT_CODES_HELP)
    a.add_argument("device", help="/dev path, or UUID=... / LABEL=... of an OCFS2 disk")
    a.add_argument("--label", help="filesystem label = mount directory name (to format)")
    a.add_argument("--slots", type=int,
                   help=f"node slots (default: cluster nodes + {SLOT_HEADROOM}, at least "
                        f"{MIN_SLOTS})")
    a.add_argument("--cluster-size", help="mkfs.ocfs2 -C (default: mkfs picks)")
    a.add_argument("--base", default=facts.DEFAULT_BASE,
                   help="mount under this directory (default: %(default)s)")
    a.add_argument("--force", action="store_true",
                   help="format even though the disk holds a signature (destroys it)")
    a.add_argument("--owner", default="cinder",
                   help="after formatting, chown the new filesystem's root to this user "
                        "when it exists here: the user cinder-volume runs as "
                        "(default: %(default)s)")
    a.add_argument("--no-fstab", action="store_true", help="do not write /etc/fstab")
    a.add_argument("--fstab", default=FSTAB, help=argparse.SUPPRESS)
    a.add_argument("--dry-run", action="store_true", help="print what would be done")
    a.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    a.add_argument("--json", action="store_true", help="print the plan as JSON")
    a.add_argument("--timeout", type=float, default=600.0, help=argparse.SUPPRESS)
    common.add_peer_args(a)
    a.set_defaults(func=run_add)
