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
"""``up()``/``down()``: the whole deployment, from a bare machine to a working Cinder.

``up`` installs the apt packages it needs (rabbitmq-server, postgresql),
brings the lab up (or reuses a running one), adds the second pool's and the
second backend's disks, starts the control plane in the lab's netns (with
Keystone unless ``E2E_AUTH=noauth``) and the
services on the nodes, and waits until every service reports up. With
``E2E_NOVA=1`` also the compute control plane (:mod:`e2e.nova`) and libvirtd
plus nova-compute on the nodes (:mod:`e2e.compute`, the lab's compute image).
It is idempotent: what already runs is left alone.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from e2e import clients, compute, config, control, keystone, nodes, nova, procs
from lab import config as lab_config
from lab.lab import Lab

Say = Callable[[str], None]

APT_PACKAGES = {"rabbitmq-server": config.RABBIT_SERVER,
                "postgresql": str(config.PG_BIN / "postgres")}
POLICY_RC = Path("/usr/sbin/policy-rc.d")


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def ensure_packages(say: Say = _say) -> None:
    """apt-get install what is missing, without letting the packages start services."""
    missing = [pkg for pkg, path in APT_PACKAGES.items() if not Path(path).exists()]
    if not missing:
        return
    say(f"e2e: installing {' '.join(missing)} from apt")
    ours = not POLICY_RC.exists()
    if ours:  # keep invoke-rc.d from starting system-wide instances
        POLICY_RC.write_text("#!/bin/sh\nexit 101\n")
        POLICY_RC.chmod(0o755)
    try:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "install", "-y", "-q", *missing], check=True, env=env)
    finally:
        if ours:
            POLICY_RC.unlink(missing_ok=True)


def ensure_lab(say: Say = _say) -> tuple[Lab, bool]:
    """The running lab if it is usable, else a freshly booted one; True if fresh."""
    lab = Lab()
    if lab.is_up() and lab.state.nodes >= 2:
        try:
            if all(n.agent.ping(timeout=10) == n.name for n in lab.nodes):
                say(f"e2e: reusing the running lab ({lab.state.nodes} nodes)")
                return lab, False
        except Exception:  # noqa: BLE001 - any failure means: boot a fresh one
            pass
    lab_config.NODE_MEMORY_MB = max(lab_config.NODE_MEMORY_MB, config.NODE_MEMORY_MB)
    # E2E_NOVA=1: the image with libvirt, qemu and nova-compute (lab/image.py).
    lab_config.COMPUTE = lab_config.COMPUTE or config.NOVA
    return lab.up(nodes=2, say=say), True


def nodes_now(lab: Lab) -> str:
    """The earliest of the running nodes' clocks (UTC, ISO format), for ``wait_services``.

    Heartbeats carry the node's clock, which lags the host's under emulation (by up
    to minutes under load), so "newer than now" is judged by the nodes' own clocks.
    """
    return min(n.sh("date -u +%Y-%m-%dT%H:%M:%S").strip() for n in lab.running_nodes())


def wait_services(expected: int, since: str = "", timeout: float = 900.0,
                  say: Say = _say) -> float:
    """Poll ``openstack volume service list`` until ``expected`` node services are up.

    Only heartbeats newer than ``since`` (UTC, ISO format, by the nodes' clocks) count:
    a service restarted a moment ago still shows "up" from its previous life.
    """
    t0 = time.monotonic()
    last = ""
    while time.monotonic() - t0 < timeout:
        proc = clients.cli(["openstack", "volume", "service", "list", "-f", "value",
                            "-c", "Binary", "-c", "Host", "-c", "State", "-c", "Updated At"],
                           check=False)
        rows = [line.split() for line in proc.stdout.splitlines() if line.strip()]
        up = [r for r in rows if r[0] != "cinder-scheduler" and r[2] == "up"
              and r[3] > since]
        summary = f"{len(up)}/{expected} node services up"
        if summary != last:
            say(f"e2e: {summary} ({time.monotonic() - t0:.0f}s)")
            last = summary
        if len(up) >= expected:
            return time.monotonic() - t0
        time.sleep(10)
    raise procs.NotReady(f"only {last} after {timeout:.0f}s; logs: "
                         f"{nodes.host_log_dir('node1')}")


def up(say: Say = _say) -> Lab:
    t0 = time.monotonic()
    ensure_packages(say)
    lab, fresh = ensure_lab(say)
    if config.NOVA:  # a reused lab may have been booted without nova-compute: say so now
        compute.require_image(lab)
    if fresh:  # a new lab: yesterday's database describes volumes that no longer exist
        control.down()
        clean_state()
    config.STATE_DIR.mkdir(parents=True, exist_ok=True)
    nodes.ensure_disks(lab, say)
    control.start_postgres(say)
    glance_db_new = control.ensure_database("glance")
    control.start_rabbit(say)
    on_node = nodes.glance_on_node(lab)
    if on_node:
        glance = f"http://{nodes.glance_host()}:{config.GLANCE_PORT}"
    else:
        say("e2e: the node image has no glance; glance-api runs on the host side")
        control.start_glance(say)
        glance = config.glance_endpoint()
    if config.AUTH == "keystone":
        keystone.start(say, glance)
    control.start_cinder(say, glance_endpoint=glance)
    clients.write(glance)
    if config.NOVA:
        nova.up(say, glance_url=glance)
    changed = nodes.configure(lab, glance)
    # A node's cinder.conf changed (E2E_AUTH, new ids): restart its services with it.
    # glance-api is not cinder's but is restarted with them (cheap).
    nodes.stop(lab, only=changed)
    if on_node:
        nodes.start_glance(lab, say, db_sync=glance_db_new)
    since = nodes_now(lab)
    nodes.start_services(lab)
    expected = len(lab.running_nodes()) * (len(config.BACKENDS) + 1)
    wait_services(expected, since=since, say=say)
    if on_node:
        say(f"e2e: glance-api up at {glance} ({nodes.wait_glance():.0f}s more)")
    if config.NOVA:
        compute.up(lab, glance, say)
    ensure_volume_types(say)
    if config.NOVA:
        ensure_guest(say)
    say(f"e2e: deployment up in {time.monotonic() - t0:.0f}s")
    return lab


#: The volume types a new user finds: the operators' ``ocfs`` (their first command
#: creates a volume of it) and one per backend.
VOLUME_TYPES = {"ocfs": {"volume_backend_name": "ocfs2"},
                "ocfsb": {"volume_backend_name": "ocfs2b"}}


def ensure_volume_types(say: Say = _say) -> None:
    from e2e.api import ensure_type  # the CLI helpers need the clouds.yaml written above
    for name, specs in VOLUME_TYPES.items():
        ensure_type(name, **specs)
    say(f"e2e: volume types {', '.join(VOLUME_TYPES)} ready")


#: What a new user boots (E2E_NOVA=1): the tiny guest (e2e/guest_image.py) and a
#: flavor it fits, under emulation inside the emulated nodes.
GUEST_IMAGE = "tiny-guest"
FLAVOR = "tiny"
FLAVOR_ARGS = ("--ram", "192", "--disk", "1", "--vcpus", "1")


def ensure_guest(say: Say = _say) -> None:
    """The tiny guest in Glance (built locally first) and flavor ``tiny``, once."""
    from e2e import guest_image
    from e2e.api import osc
    t0 = time.monotonic()
    path = guest_image.build()
    if clients.cli(["openstack", "image", "show", GUEST_IMAGE], check=False).returncode:
        # The admin project's (Glance's policy refuses --public here: publicize_image).
        osc("image", "create", "--disk-format", "raw", "--container-format", "bare",
            "--file", str(path), GUEST_IMAGE)
    if clients.cli(["openstack", "flavor", "show", FLAVOR], check=False).returncode:
        osc("flavor", "create", *FLAVOR_ARGS, FLAVOR)  # public by default
    say(f"e2e: image {GUEST_IMAGE} and flavor {FLAVOR} ready ({time.monotonic() - t0:.0f}s)")


def down(say: Say = _say, lab_too: bool = True) -> None:
    lab = Lab()
    if lab.state.nodes:
        try:
            if config.NOVA:  # nova-compute first; nodes.stop ends any left either way
                compute.stop(lab)
            nodes.stop(lab)
        except Exception as exc:  # noqa: BLE001 - the nodes may be gone already
            say(f"e2e: could not stop node services cleanly: {exc}")
    nova.down()  # no-op unless E2E_NOVA=1 started it
    control.down()
    if lab_too:
        lab.down()
    say("e2e: down")


def howto() -> str:
    wrapper = config.REPO_ROOT / "e2e" / "os"
    return "\n".join([
        "The deployment is up. Point the CLIs at it (they must run in the lab's netns):",
        f"  {wrapper} openstack volume list",
        f"  {wrapper} openstack volume service list",
        f"  {wrapper} cinder get-pools --detail",
        "or by hand:",
        f"  source {config.STATE_DIR / 'openrc'}",
        f"  ip netns exec {config.NETNS} openstack volume list",
        *([f"Keystone: {config.keystone_endpoint()}, user {config.ADMIN_USER} / password "
           f"{config.ADMIN_PASSWORD}, project {config.ADMIN_PROJECT}, domain Default "
           f"(clouds.yaml: {clients.clouds_path()}, cloud e2e)",
           "Tempest against it: make tempest"] if config.AUTH == "keystone"
          else ["Auth: noauth (E2E_AUTH=noauth)"]),
        f"Logs: {config.STATE_DIR / 'logs'} (host side), "
        f"{nodes.host_log_dir('node1').rsplit('/', 1)[0]}/<node>/ (nodes)",
        "Stop everything: make demo-down (python -m e2e down)",
    ])


def clean_state() -> None:
    shutil.rmtree(config.STATE_DIR, ignore_errors=True)
