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
"""The node side of the deployment: cinder-volume, cinder-backup and glance-api.

Every lab node runs cinder-volume (backends ``ocfs2`` and ``ocfs2b``, both
``OCFS2Driver``) and cinder-backup (posix driver, backups on OCFS2), in
Cinder's active-active mode: the same ``cluster`` on every node, with tooz
file locks on the shared OCFS2 filesystem. node1 also runs glance-api with its
file store on OCFS2, so images live on the same filesystem as the volumes.

Logs go to the lab share (``STATE_DIR/share/e2e/<node>/*.log`` on the host),
so the host reads them directly. Pids of what we start are kept in
``e2e/STATE_DIR/node-pids.json``; ``stop()`` ends exactly those.
"""

from __future__ import annotations

import json
import shlex
import time
from collections.abc import Callable
from typing import Any

from e2e import config, control, keystone
from lab import config as lab_config
from lab.lab import Lab, Node

Say = Callable[[str], None]

SERVICES = ("cinder-volume", "cinder-backup")
GLANCE_NODE = "node1"
GUEST_LOG_ROOT = f"{lab_config.GUEST_SHARE}/e2e"


def host_log_dir(node: str) -> str:
    return str(lab_config.STATE_DIR / "share" / "e2e" / node)


def guest_log(node: str, service: str) -> str:
    return f"{GUEST_LOG_ROOT}/{node}/{service}.log"


def backend_b_root() -> str:
    return f"{config.MOUNT_ROOT}b"


def pool_dir(label: str) -> str:
    """Where filesystem ``label`` is mounted on the nodes."""
    if label == config.BACKEND_B_LABEL:
        return f"{backend_b_root()}/{label}"
    return f"{config.MOUNT_ROOT}/{label}"


def backup_dir() -> str:
    return f"{pool_dir(config.PRIMARY_LABEL)}/.cinder-backups"


def glance_store_dir() -> str:
    return f"{pool_dir(config.PRIMARY_LABEL)}/.glance-images"


def glance_on_node(lab: Lab) -> bool:
    """True when the node image has glance (else glance-api runs on the host side)."""
    if config.GLANCE_PLACEMENT == "host":
        return False
    probe = lab.node(GLANCE_NODE).exec(
        [f"{config.NODE_VENV}/bin/python", "-c", "import glance.wsgi"], timeout=120)
    return probe.ok


def glance_host() -> str:
    return lab_config.node_ip(lab_config.node_index(GLANCE_NODE))


# --- disks -----------------------------------------------------------------

def mount_everywhere(lab: Lab, label: str, mountpoint: str) -> None:
    """Mount shared disk ``label`` at ``mountpoint`` on every running node (idempotent)."""
    for node in lab.running_nodes():
        dev = lab.wait_device(node, label, timeout=60)
        node.sh(f"mkdir -p {mountpoint} && (mountpoint -q {mountpoint} || mount -t ocfs2 "
                f"-o {lab_config.MOUNT_OPTIONS} {dev} {mountpoint})", timeout=180)


def rejoin(lab: Lab, name: str) -> float:
    """Boot killed node ``name`` again and give it back to the deployment: the cluster
    joined, every pool mounted where the deployment mounts it, its services started.
    Returns the seconds ``lab.start`` took (boot, cluster join, mounts)."""
    seconds = lab.start(name)
    # lab.start mounts each disk at the lab's default place; backend B's belongs elsewhere
    # (under backend A's root, backend A would take it for one of its pools: even the
    # empty directory, as a pool that is down because nothing is mounted there).
    wrong = f"{config.MOUNT_ROOT}/{config.BACKEND_B_LABEL}"
    lab.node(name).sh(f"! mountpoint -q {wrong} || umount {wrong}; rmdir {wrong} 2>/dev/null; "
                      "true", timeout=120)
    for label in (config.SECOND_LABEL, config.BACKEND_B_LABEL):
        mount_everywhere(lab, label, pool_dir(label))
    start_services(lab)
    if config.NOVA:  # libvirtd and nova-compute too (their configs survive the reboot)
        from e2e import compute
        compute.start_services(lab)
    return seconds


def ensure_disks(lab: Lab, say: Say) -> None:
    """Second pool (``SECOND_LABEL``) and the second backend's disk, formatted and mounted."""
    for label, size in ((config.SECOND_LABEL, "3G"), (config.BACKEND_B_LABEL, "3G")):
        if label not in lab.state.disks:
            say(f"e2e: adding disk {label}")
            lab.add_disk(label=label, size=size, format=True)
        elif not lab.state.formatted.get(label):
            lab.format_disk(label)
        mount_everywhere(lab, label, pool_dir(label))


# --- configuration ---------------------------------------------------------

def _glance_endpoint(on_node: bool) -> str:
    host = glance_host() if on_node else config.HOST_IP
    return f"http://{host}:{config.GLANCE_PORT}"


def internal_tenant() -> dict[str, str]:
    """cinder's internal tenant (the image-volume cache's owner): real Keystone ids."""
    if config.AUTH == "noauth":
        return {"project_id": config.PROJECT_ID, "user_id": config.USER_ID}
    made = keystone.ids()
    if not made:
        raise RuntimeError(f"no {keystone.ids_path()}: keystone.start() has not run")
    return {"project_id": made["service_project_id"], "user_id": made["cinder_user_id"]}


def node_conf(node: Node, glance_endpoint: str) -> str:
    """cinder.conf for ``node``: active-active ``cluster`` or a shared ``backend_host``."""
    clustered = config.HA_MODE == "cluster"
    values = {
        "node": node.name, "node_ip": node.ip,
        "cluster_line": f"cluster = {config.CINDER_CLUSTER}" if clustered else "",
        "backend_host_line": "" if clustered else f"backend_host = {config.CINDER_CLUSTER}",
        "transport_url": config.transport_url(), "db_url": config.db_url(),
        "glance_endpoint": glance_endpoint, "backends": ",".join(config.BACKENDS),
        "backup_dir": backup_dir(), "coordination_url": config.coordination_url(),
        "mount_root": config.MOUNT_ROOT, "mount_root_b": backend_b_root(),
        "images_dir": glance_store_dir(),
        **internal_tenant(),
    }
    text = (config.TEMPLATES / "cinder-node.conf").read_text().format(**values)
    if config.NOVA:  # cinder-volume calls Nova (e2e.compute)
        from e2e import compute
        text += compute.cinder_nova_section()
    return text


def configure(lab: Lab, glance_endpoint: str) -> list[str]:
    """Write every node's configs; return the nodes whose cinder.conf changed."""
    rootwrap = (config.TEMPLATES / "rootwrap.conf").read_text().format(node_venv=config.NODE_VENV)
    venv = config.NODE_VENV
    changed = []
    for node in lab.running_nodes():
        node.sh(f"""set -e
mkdir -p {config.NODE_CONF_DIR} /var/lib/cinder/locks {GUEST_LOG_ROOT}/{node.name}
mkdir -p {backup_dir()} {glance_store_dir()}
ln -sf {venv}/bin/cinder-rootwrap /usr/local/bin/cinder-rootwrap
ln -sf {venv}/bin/privsep-helper /usr/local/bin/privsep-helper
""", timeout=60)
        node.write_file(f"{config.NODE_CONF_DIR}/rootwrap.conf", rootwrap)
        conf = f"{config.NODE_CONF_DIR}/cinder.conf"
        text = node_conf(node, glance_endpoint)
        old = node.exec(["cat", conf], timeout=30)
        if not old.ok or old.stdout != text:
            changed.append(node.name)
        node.write_file(conf, text, mode=0o640)  # it holds the database's password
        if config.CINDER_USER != "root":
            node.sh(service_user_script(), timeout=120)
    return changed


def service_user_script(user: str = config.CINDER_USER, uid: int = config.CINDER_UID) -> str:
    """Shell that makes ``user`` what cinder-volume and cinder-backup run as on a node,
    the way distro packages set it up: a system user with the same uid/gid on every
    node, in group libvirt-qemu where libvirt is installed (an attached volume's file is
    libvirt-qemu's, mode 0660), allowed ``sudo cinder-rootwrap`` (os-brick's device
    check, cinder-backup's chown of a file it does not own); owner of its state
    directory, the pool roots and the backups; cinder.conf readable by it (its logs
    are handed to it as it starts, :func:`_spawn`)."""
    conf_dir = config.NODE_CONF_DIR
    pools = " ".join(pool_dir(label) for label in
                     (config.PRIMARY_LABEL, config.SECOND_LABEL, config.BACKEND_B_LABEL))
    sudoers = (f"{user} ALL = (root) NOPASSWD: /usr/local/bin/cinder-rootwrap "
               f"{conf_dir}/rootwrap.conf *")
    return f"""set -e
getent group {user} >/dev/null || groupadd --system --gid {uid} {user}
getent passwd {user} >/dev/null || useradd --system --uid {uid} --gid {user} \
    --home-dir /var/lib/cinder --shell /usr/sbin/nologin {user}
if getent group libvirt-qemu >/dev/null; then usermod -a -G libvirt-qemu {user}; fi
echo {shlex.quote(sudoers)} >/etc/sudoers.d/{user}
chmod 0440 /etc/sudoers.d/{user}
chgrp {user} {conf_dir}/cinder.conf
# state_path; -xdev: the pools are mounted below it (only their roots are handed over)
find /var/lib/cinder -xdev -exec chown {user}:{user} {{}} +
chown -R {user}:{user} {backup_dir()}
for pool in {pools}; do
    if mountpoint -q $pool; then
        chown {user}:{user} $pool
        # a deployment that ran as root before left root's files: hand them over
        find $pool -maxdepth 1 -user 0 -type f -exec chown {user}:{user} {{}} +
    fi
done
"""


# --- processes -------------------------------------------------------------

def _pids_file():
    return config.STATE_DIR / "node-pids.json"


def _load_pids() -> dict[str, dict[str, Any]]:
    try:
        return json.loads(_pids_file().read_text())
    except (OSError, ValueError):
        return {}


def _save_pids(pids: dict[str, dict[str, Any]]) -> None:
    _pids_file().parent.mkdir(parents=True, exist_ok=True)
    _pids_file().write_text(json.dumps(pids, indent=1) + "\n")


def _boot_id(node: Node) -> str:
    return node.read_file("/proc/sys/kernel/random/boot_id").decode().strip()


def _known(node: Node, pids: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Our pids on ``node``, forgotten when the node has rebooted since."""
    boot_id = _boot_id(node)
    mine = pids.get(node.name, {})
    if mine.get("boot_id") != boot_id:
        mine = pids[node.name] = {"boot_id": boot_id}
    return mine


def _alive(node: Node, pid: int) -> bool:
    return node.exec(["kill", "-0", str(pid)], timeout=30).ok


def _spawn(node: Node, service: str, argv: list[str], pids: dict[str, dict[str, Any]],
           user: str = "root") -> None:
    known = _known(node, pids).get(service)
    if known and _alive(node, known):
        return
    log = guest_log(node.name, service)
    cmd = " ".join(shlex.quote(a) for a in argv)
    start = f"echo '=== '$(date +%FT%T)' start {service}' >>{log}"
    env = {"PYTHONPATH": config.NODE_SRC}
    if user != "root":  # the service opens its --log-file itself
        start = f"chown {user}: {log}; {start}"
        cmd = f"setpriv --reuid={user} --regid={user} --init-groups {cmd}"
        env["HOME"] = "/var/lib/cinder"
    pid = node.spawn(f"{start}; exec {cmd}", log=log, env=env)
    pids.setdefault(node.name, {})[service] = pid
    _save_pids(pids)


def spawn(node: Node, service: str, argv: list[str]) -> None:
    """Start ``service`` on ``node`` unless it runs already (our pid for it is alive);
    its pid is kept with the others, its output goes to :func:`guest_log`."""
    _spawn(node, service, argv, _load_pids())


def service_alive(node: Node, service: str) -> bool:
    """True while the process we started as ``service`` on ``node`` runs."""
    pid = _known(node, _load_pids()).get(service)
    return bool(pid) and _alive(node, pid)


def start_glance(lab: Lab, say: Say, db_sync: bool = True) -> None:
    node = lab.node(GLANCE_NODE)
    conf_dir = "/etc/glance"
    values = {
        "node": node.name, "bind_host": node.ip, "glance_port": config.GLANCE_PORT,
        "log_file": guest_log(node.name, "glance-api"),
        "glance_db": config.db_url("glance"),
        "paste_ini": f"{config.NODE_VENV}/etc/glance/glance-api-paste.ini",
        "store_dir": glance_store_dir(), "staging_dir": "/var/lib/glance",
    }
    text = (config.TEMPLATES / "glance-node.conf").read_text().format(**values)
    node.sh(f"mkdir -p {conf_dir} /var/lib/glance/staging /var/lib/glance/tasks", timeout=60)
    node.write_file(f"{conf_dir}/glance-api.conf", text)
    if db_sync:
        t0 = time.monotonic()
        node.exec([f"{config.NODE_VENV}/bin/glance-manage", "--config-file",
                   f"{conf_dir}/glance-api.conf", "db_sync"], timeout=900, check=True)
        say(f"e2e: glance db sync on {node.name} done ({time.monotonic() - t0:.0f}s)")
    pids = _load_pids()
    _spawn(node, "glance-api", [f"{config.NODE_VENV}/bin/python", "-m", "e2e.glance_wsgi",
                                node.ip, str(config.GLANCE_PORT)], pids)
    # OS_GLANCE_CONFIG_DIR defaults to /etc/glance, where the config is.


def start_services(lab: Lab) -> None:
    pids = _load_pids()
    for node in lab.running_nodes():
        for service in SERVICES:
            _spawn(node, service, [
                f"{config.NODE_VENV}/bin/{service}", "--config-file",
                f"{config.NODE_CONF_DIR}/cinder.conf",
                "--log-file", guest_log(node.name, service)], pids, user=config.CINDER_USER)


def stop(lab: Lab, only: list[str] | None = None,
         services: tuple[str, ...] | None = None) -> None:
    """Stop what we started on every node (or on the nodes in ``only``): every service,
    or those in ``services`` (``start_services`` starts them again)."""
    pids = _load_pids()
    for name in list(pids):
        if only is not None and name not in only:
            continue
        node = lab.node(name)
        if not node.running():
            continue
        mine = _known(node, pids)
        for service, pid in list(mine.items()):
            if service == "boot_id" or (services is not None and service not in services):
                continue
            node.exec(f"kill -TERM -{pid} 2>/dev/null; sleep 2; kill -KILL -{pid} "
                      "2>/dev/null; true", timeout=60)
            mine.pop(service)
        if services is None:
            pids.pop(name)
    _save_pids(pids)


def wait_glance(timeout: float = 600.0) -> float:
    t0 = time.monotonic()
    host = glance_host()
    while time.monotonic() - t0 < timeout:
        if control.procs.port_open(config.GLANCE_PORT, host):
            return time.monotonic() - t0
        time.sleep(3)
    raise control.procs.NotReady(f"glance-api on {GLANCE_NODE} not listening after "
                                 f"{timeout:.0f}s; see {host_log_dir(GLANCE_NODE)}")
