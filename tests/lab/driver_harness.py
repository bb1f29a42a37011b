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
"""Drive the real OCFS2Driver on a lab node, as cinder-volume would.

Run on a node (the repo is shared at /opt/cinder-ocfs2)::

    echo '[{"op": "stats"}, {"op": "create", "id": "...", "size": 1}]' | \
        PYTHONPATH=/opt/cinder-ocfs2 /opt/venv/bin/python \
        /opt/cinder-ocfs2/tests/lab/driver_harness.py [--backend ocfs2] [--host node1]

It reads a JSON list of steps on stdin, runs them in one process (importing
Cinder once: slow under emulation) with a real
``cinder.volume.configuration.Configuration`` and real Volume/Snapshot
objects, and prints one JSON object with a result per step.  Steps:

``setup``; ``stats``; ``create {id,size[,pool,thick]}``; ``extend {id,size}``;
``delete {id}``; ``snapshot {id,snap}``; ``delete_snapshot {id,snap}``;
``from_snapshot {id,snap,new,size}``; ``clone {id,new,size[,pool]}``;
``revert {id,snap}``; ``write {id,offset,nbytes,seed}`` (random data);
``checksum {id|snap,...,nbytes}``; ``connect {id}`` (initialize_connection,
then os-brick's GPFS connector, then a checksum read through the device
path it returns); ``df {pool}``; ``path {id}``; ``extents {id|snap}``
(filefrag: extent count and how many are flagged shared);
``watch {pool,timeout,marker}``
(refresh stats every 2 s, as the periodic task would, until ``pool`` is up
after having been absent or down; touches ``marker`` when it starts).

``--out FILE`` writes the JSON there instead of stdout (for background runs);
driver logs go to stderr.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import random
import subprocess
import sys
import time
import warnings

warnings.simplefilter("ignore")

GiB = 1024 ** 3
HASH_BYTES = 16 * 1024 * 1024


def sha(path: str, nbytes: int = HASH_BYTES) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        remaining = nbytes
        while remaining > 0:
            chunk = f.read(min(remaining, 1 << 20))
            if not chunk:
                break
            digest.update(chunk)
            remaining -= len(chunk)
    return digest.hexdigest()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", default="ocfs2")
    parser.add_argument("--host", default=os.uname().nodename)
    parser.add_argument("--out")
    parser.add_argument("--steps", help="read the steps from this file, not stdin")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if args.steps:
        with open(args.steps) as f:
            steps = json.load(f)
    else:
        steps = json.load(sys.stdin)

    t0 = time.monotonic()
    from cinder import context as cinder_context
    from cinder import coordination, objects
    from cinder.volume import configuration
    from cinder.volume import driver as cinder_driver
    from oslo_config import cfg

    from cinder_ocfs2 import driver

    cfg.CONF([], project="cinder", default_config_files=[])
    lock_dir = "/var/lib/cinder/harness-locks"
    os.makedirs(lock_dir, exist_ok=True)
    cfg.CONF.set_override("backend_url", f"file://{lock_dir}", group="coordination")
    cfg.CONF.set_override("lock_path", lock_dir, group="oslo_concurrency")
    coordination.COORDINATOR.start()
    objects.register_all()
    conf = configuration.Configuration(cinder_driver.volume_opts, config_group=args.backend)
    drv = driver.OCFS2Driver(configuration=conf, host=f"{args.host}@{args.backend}")
    ctx = cinder_context.get_admin_context()
    import_s = time.monotonic() - t0

    def volume(step, key="id", size=None):
        pool = step.get("pool") or drv.monitor.pools and next(iter(drv.monitor.pools))
        vol = objects.Volume(context=ctx, id=step[key], size=size or step.get("size", 1),
                             host=f"{args.host}@{args.backend}#{pool}",
                             volume_type_id=None, status="available",
                             attach_status="detached",
                             # Stateless steps: found by the pool in the host (a real
                             # Cinder volume also carries the filesystem UUID).
                             provider_id=step.get("provider_id"))
        vol._name_id = None
        return vol

    def snapshot(step):
        vol = volume(step)
        snap = objects.Snapshot(context=ctx, id=step["snap"], volume_id=vol.id,
                                volume_size=vol.size)
        snap.volume = vol
        return snap

    results = []
    for step in steps:
        op = step["op"]
        t = time.monotonic()
        out: dict = {"op": op}
        try:
            if op == "setup":
                drv.do_setup(ctx)
                drv.check_for_setup_error()
                out["pools"] = sorted(drv.monitor.pools)
            elif op == "stats":
                out["stats"] = drv.get_volume_stats(refresh=True)
            elif op == "create":
                vol = volume(step)
                if step.get("thick"):
                    drv._extra_specs = lambda v: {"provisioning:type": "thick"}
                drv.create_volume(vol)
                drv.__dict__.pop("_extra_specs", None)
                out["path"] = drv.local_path(vol)
                st = os.stat(out["path"])
                out.update(size=st.st_size, mode=oct(st.st_mode & 0o777),
                           allocated=st.st_blocks * 512)
            elif op == "extend":
                drv.extend_volume(volume(step, size=1), step["size"])
                out["size"] = os.path.getsize(drv.local_path(volume(step)))
            elif op == "delete":
                drv.delete_volume(volume(step))
                out["exists"] = os.path.exists(drv.local_path(volume(step)))
            elif op == "snapshot":
                snap = snapshot(step)
                drv.create_snapshot(snap)
                out["path"] = drv._snapshot_path(snap)
            elif op == "delete_snapshot":
                drv.delete_snapshot(snapshot(step))
            elif op == "from_snapshot":
                new = volume(step, key="new", size=step["size"])
                drv.create_volume_from_snapshot(new, snapshot(step))
                out["path"] = drv.local_path(new)
                out["size"] = os.path.getsize(out["path"])
            elif op == "clone":
                new = volume({**step, "pool": step.get("to_pool") or step.get("pool")},
                             key="new", size=step["size"])
                drv.create_cloned_volume(new, volume(step))
                out["path"] = drv.local_path(new)
                out["size"] = os.path.getsize(out["path"])
            elif op == "revert":
                drv.revert_to_snapshot(ctx, volume(step), snapshot(step))
            elif op == "write":
                path = drv.local_path(volume(step))
                data = random.Random(step.get("seed", 0)).randbytes(step["nbytes"])
                fd = os.open(path, os.O_WRONLY)
                try:
                    os.pwrite(fd, data, step.get("offset", 0))
                    os.fsync(fd)
                finally:
                    os.close(fd)
                out["sha256"] = sha(path, step.get("hash_bytes", HASH_BYTES))
            elif op == "checksum":
                if "snap" in step:
                    path = drv._snapshot_path(snapshot(step))
                else:
                    path = drv.local_path(volume(step))
                out["sha256"] = sha(path, step.get("hash_bytes", HASH_BYTES))
                out["size"] = os.path.getsize(path)
            elif op == "connect":
                from os_brick.initiator import connector
                vol = volume(step)
                props = {"host": args.host, "ip": "127.0.0.1"}
                info = drv.initialize_connection(vol, props)
                brick = connector.InitiatorConnector.factory(
                    info["driver_volume_type"].upper(), root_helper="sudo")
                device = brick.connect_volume(info["data"])
                out["connection"] = info
                out["device"] = device
                out["sha256"] = sha(device["path"], step.get("hash_bytes", HASH_BYTES))
                brick.disconnect_volume(info["data"], device)
                drv.terminate_connection(vol, None)
            elif op == "df":
                path = os.path.join(conf.ocfs2_mount_point_base, step["pool"])
                subprocess.run(["sync"], check=False)
                df = subprocess.run(["df", "-B1", "--output=size,used,avail", path],
                                    capture_output=True, text=True).stdout.split()
                out.update(size=int(df[3]), used=int(df[4]), avail=int(df[5]))
            elif op == "watch":
                seen = []
                with open(step["marker"], "w"):
                    pass
                deadline = time.monotonic() + step.get("timeout", 120)
                while time.monotonic() < deadline:
                    stats = drv.get_volume_stats(refresh=True)
                    pool = {p["pool_name"]: p for p in stats["pools"]}.get(step["pool"])
                    state = pool["backend_state"] if pool else "absent"
                    if not seen or seen[-1][0] != state:
                        seen.append((state, round(time.monotonic() - t, 1)))
                    if state == "up" and len(seen) > 1:
                        out["pool"] = pool
                        break
                    time.sleep(2)
                out["transitions"] = seen
            elif op == "extents":
                # FIEMAP via filefrag: reflinked extents carry the "shared" flag.
                if "snap" in step:
                    path = drv._snapshot_path(snapshot(step))
                else:
                    path = drv.local_path(volume(step))
                lines = subprocess.run(["filefrag", "-v", path], capture_output=True,
                                       text=True, check=True).stdout.splitlines()
                rows = [ln for ln in lines if ln.strip()[:1].isdigit() and ":" in ln]
                out["extents"] = len(rows)
                out["shared"] = sum("shared" in ln for ln in rows)
            elif op == "path":
                out["path"] = drv.local_path(volume(step))
            else:
                raise ValueError(f"unknown op {op}")
            out["ok"] = True
        except Exception as exc:  # report, keep going
            out.update(ok=False, error=f"{type(exc).__name__}: {exc}")
        out["seconds"] = round(time.monotonic() - t, 4)
        results.append(out)
    report = json.dumps({"import_seconds": round(import_s, 2), "results": results},
                        default=str)
    if args.out:
        with open(args.out + ".tmp", "w") as f:
            f.write(report + "\n")
        os.rename(args.out + ".tmp", args.out)
    else:
        print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
