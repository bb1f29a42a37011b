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
"""The node side of compute (``E2E_NOVA=1``): libvirtd and nova-compute on every lab node.

The nodes boot the lab's compute image (``LAB_COMPUTE``, lab/image.py: qemu and
libvirt from Debian, nova in ``config.NODE_NOVA_VENV``). :func:`configure`
writes on each node:

* ``/etc/nova/nova.conf`` (``templates/nova-compute.conf``): ``virt_type = qemu``,
  ``cpu_mode = none``, a vfat config drive, live migration over
  ``qemu+tcp``, and the host side's endpoints and service users
  (:func:`e2e.nova.values`, the values of the host side's nova.conf);
* ``/etc/nova/rootwrap.conf`` (``templates/nova-rootwrap.conf``) and
  ``nova-rootwrap`` on sudo's path: nova starts its privsep daemons the stock
  way, ``sudo nova-rootwrap /etc/nova/rootwrap.conf privsep-helper ...``;
* ``/etc/libvirt/e2e-libvirtd.conf`` (``templates/libvirtd.conf``): TCP without
  auth for live migration, a host UUID per node. libvirt's own files
  (``qemu.conf``: user ``libvirt-qemu``, ``dynamic_ownership``) stay stock.

:func:`start_services` starts virtlogd, libvirtd and, once libvirt answers,
nova-compute through :mod:`e2e.nodes` (the same pid file, logs in the same
share directory, ``stop`` the same way). :func:`wait_computes` waits for
``compute service list`` to show every node's nova-compute up and
:func:`discover_hosts` maps them into cell1 from the host side. :func:`up` is
all of it; :func:`cinder_nova_section` is the ``[nova]`` section that the
nodes' cinder.conf gets (:func:`e2e.nodes.node_conf`).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from e2e import config, nodes, nova, procs
from lab import config as lab_config
from lab.lab import Lab, Node

Say = Callable[[str], None]

#: Start order; stopped in reverse (nova-compute first).
SERVICES = ("virtlogd", "libvirtd", "nova-compute")
#: Restarted when a node's nova.conf or libvirtd.conf changes. Not virtlogd: it
#: holds the console logs of running guests.
RESTART_ON_CHANGE = ("libvirtd", "nova-compute")
NOVA_CONF_DIR = "/etc/nova"
NOVA_CONF = f"{NOVA_CONF_DIR}/nova.conf"
ROOTWRAP_CONF = f"{NOVA_CONF_DIR}/rootwrap.conf"
#: Given to ``libvirtd --config``, so the package's libvirtd.conf stays as shipped.
LIBVIRTD_CONF = "/etc/libvirt/e2e-libvirtd.conf"
#: nova's state_path on the node (instances, locks); node-local, not OCFS2.
STATE_PATH = "/var/lib/nova"
LIBVIRT_URI = "qemu:///system"
#: libvirt-daemon-config-network autostarts network "default" (virbr0, dnsmasq);
#: servers boot with ``--nic none``, nothing uses it.
DEFAULT_NETWORK_AUTOSTART = "/etc/libvirt/qemu/networks/autostart/default.xml"


def _bin(name: str) -> str:
    return f"{config.NODE_NOVA_VENV}/bin/{name}"


def _render(template: str, **values: object) -> str:
    return (config.TEMPLATES / template).read_text().format(**values)


# --- configuration -----------------------------------------------------------

def host_uuid(node: str) -> str:
    """libvirt's host UUID for ``node``: stable, and different on every node.

    The nodes are VMs of one image without an SMBIOS UUID, and libvirt refuses to
    migrate a guest to a host that has its own UUID.
    """
    return str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{node}.{lab_config.CLUSTER}"))


def values(node: str, node_ip: str, glance_url: str) -> dict[str, object]:
    """The host side's nova.conf values (:func:`e2e.nova.values`), made the node's."""
    return {
        **nova.values(glance_url),
        "node": node,
        "node_ip": node_ip,
        "state_dir": STATE_PATH,
        "rootwrap_config": ROOTWRAP_CONF,
        "nova_venv": config.NODE_NOVA_VENV,
        "host_uuid": host_uuid(node),
    }


def nova_conf(node: str, node_ip: str, glance_url: str) -> str:
    return _render("nova-compute.conf", **values(node, node_ip, glance_url))


def libvirtd_conf(node: str, node_ip: str) -> str:
    return _render("libvirtd.conf", node=node, node_ip=node_ip, host_uuid=host_uuid(node))


def rootwrap_conf() -> str:
    return _render("nova-rootwrap.conf", nova_venv=config.NODE_NOVA_VENV)


def cinder_nova_section() -> str:
    """The ``[nova]`` section appended to the nodes' cinder.conf with ``E2E_NOVA=1``:
    cinder-volume calls Nova (the ``volume-extended`` event, assisted snapshots)
    as nova's service user, which has the ``service`` role those APIs require."""
    return _render("cinder-node-nova.conf", **nova.values(glance_url=""))


def setup_script(node: str) -> str:
    """Directories, ``nova-rootwrap`` where sudo finds it, libvirt's default network off."""
    return f"""set -e
mkdir -p {NOVA_CONF_DIR} {STATE_PATH}/instances {STATE_PATH}/locks {nodes.GUEST_LOG_ROOT}/{node}
ln -sf {_bin("nova-rootwrap")} /usr/local/bin/nova-rootwrap
rm -f {DEFAULT_NETWORK_AUTOSTART}
"""


def service_argv(node: str, service: str) -> list[str]:
    """What :func:`start_services` runs for ``service`` on ``node``."""
    if service == "virtlogd":
        return ["/usr/sbin/virtlogd"]
    if service == "libvirtd":
        # --listen: listen_tcp only counts with it (there is no systemd socket activation).
        return ["/usr/sbin/libvirtd", "--listen", "--config", LIBVIRTD_CONF]
    if service == "nova-compute":
        # privsep-helper is started with the same --config-file (cfg.CONF.config_file).
        return [_bin("nova-compute"), "--config-file", NOVA_CONF,
                "--log-file", nodes.guest_log(node, service)]
    raise ValueError(f"not a compute service: {service!r}")


def libvirt_probe(node_ip: str) -> str:
    """Shell test that libvirtd answers on its socket (nova-compute) and on TCP (migration)."""
    return (f"virsh -c {LIBVIRT_URI} version >/dev/null && "
            f"virsh -c qemu+tcp://{node_ip}/system hostname")


def missing_image(lab: Lab) -> list[str]:
    """The running nodes that have no nova-compute (not booted from the compute image)."""
    return [node.name for node in lab.running_nodes()
            if not node.exec(["test", "-x", _bin("nova-compute")], timeout=60).ok]


def require_image(lab: Lab) -> None:
    """Exit with what to do when a running node was not booted from the compute image."""
    missing = missing_image(lab)
    if missing:
        raise SystemExit(
            f"e2e: E2E_NOVA=1 needs the lab's compute image (qemu, libvirt, nova-compute); "
            f"{', '.join(missing)} booted without it. `python -m e2e down`, then "
            f"`E2E_NOVA=1 python -m e2e up` boots the lab with it "
            f"(`LAB_COMPUTE=1 python -m lab up` for the lab alone).")


def configure(lab: Lab, glance_url: str) -> list[str]:
    """Write every running node's nova and libvirt configs; return the nodes where
    nova.conf or libvirtd.conf changed."""
    rootwrap = rootwrap_conf()
    changed: list[str] = []
    for node in lab.running_nodes():
        node.sh(setup_script(node.name), timeout=60)
        node.write_file(ROOTWRAP_CONF, rootwrap)
        for path, text, mode in (
                (NOVA_CONF, nova_conf(node.name, node.ip, glance_url), 0o640),
                (LIBVIRTD_CONF, libvirtd_conf(node.name, node.ip), 0o644)):
            old = node.exec(["cat", path], timeout=30)
            if (not old.ok or old.stdout != text) and node.name not in changed:
                changed.append(node.name)
            node.write_file(path, text, mode)
    return changed


# --- processes ---------------------------------------------------------------

def wait_libvirt(node: Node, timeout: float = 300.0) -> float:
    """Until :func:`libvirt_probe` passes on ``node``; fail early if libvirtd died."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if node.exec(libvirt_probe(node.ip), timeout=120).ok:
            return time.monotonic() - t0
        if not nodes.service_alive(node, "libvirtd"):
            break
        time.sleep(3)
    raise procs.NotReady(f"libvirtd on {node.name} not answering after "
                         f"{time.monotonic() - t0:.0f}s; see "
                         f"{nodes.host_log_dir(node.name)}/libvirtd.log")


def start_services(lab: Lab, say: Say = print) -> None:
    """virtlogd and libvirtd on every running node, then nova-compute once libvirt
    answers (nova-compute gives up when it cannot connect). What runs is left alone."""
    running = lab.running_nodes()
    for node in running:
        for service in ("virtlogd", "libvirtd"):
            nodes.spawn(node, service, service_argv(node.name, service))
    for node in running:
        waited = wait_libvirt(node)
        say(f"e2e: libvirtd up on {node.name} ({waited:.0f}s)")
        nodes.spawn(node, "nova-compute", service_argv(node.name, "nova-compute"))


def stop(lab: Lab, only: list[str] | None = None,
         services: tuple[str, ...] = SERVICES) -> None:
    """Stop what :func:`start_services` started, nova-compute first, on every node (or
    those in ``only``). Guests keep running (libvirt puts qemu in its own session);
    powering the node off ends them."""
    for service in reversed(SERVICES):
        if service in services:
            nodes.stop(lab, only=only, services=(service,))


def wait_computes(lab: Lab, since: str, timeout: float = 900.0, say: Say = print) -> float:
    """Until ``compute service list`` shows nova-compute up on every running node.

    Only heartbeats newer than ``since`` count (UTC, ISO format, the host's clock:
    nova-conductor writes them). Fails early when a node's nova-compute has exited.
    """
    t0 = time.monotonic()
    running = lab.running_nodes()
    wanted = {("nova-compute", node.name) for node in running}
    last = ""
    while time.monotonic() - t0 < timeout:
        up = nova.compute_services(since) & wanted
        summary = f"{len(up)}/{len(wanted)} nova-compute up"
        if summary != last:
            say(f"e2e: {summary} ({time.monotonic() - t0:.0f}s)")
            last = summary
        if up == wanted:
            return time.monotonic() - t0
        for node in running:
            if ("nova-compute", node.name) not in up and not nodes.service_alive(
                    node, "nova-compute"):
                raise procs.NotReady(f"nova-compute on {node.name} exited; see "
                                     f"{nodes.host_log_dir(node.name)}/nova-compute.log")
        time.sleep(10)
    raise procs.NotReady(f"only {last} after {timeout:.0f}s; logs: "
                         f"{nodes.host_log_dir('node1')}/nova-compute.log")


def mapped_hosts(list_hosts: str) -> set[str]:
    """The hostnames in ``nova-manage cell_v2 list_hosts``'s table::

        +-----------+--------------------------------------+----------+
        | Cell Name |              Cell UUID               | Hostname |
        +-----------+--------------------------------------+----------+
        |   cell1   | 5f0e9b8e-6a0e-4a4e-9a39-4f1e0d6f1c2a |  node1   |
        +-----------+--------------------------------------+----------+
    """
    hosts = set()
    for line in list_hosts.splitlines():
        line = line.strip()
        if not line.startswith("|"):
            continue
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if len(cells) == 3 and cells[2] and cells[2] != "Hostname":
            hosts.add(cells[2])
    return hosts


def discover_hosts(hosts: list[str], timeout: float = 300.0) -> float:
    """``nova-manage cell_v2 discover_hosts`` until every host in ``hosts`` is mapped.

    From the host side's nova venv, in the netns (as :func:`e2e.nova.sync_databases`
    runs nova-manage). nova-scheduler would map them within its
    ``discover_hosts_in_cells_interval`` too; this makes it now. It maps compute
    nodes, which a nova-compute creates shortly after its service row: retried.
    """
    t0 = time.monotonic()
    while True:
        procs.run(nova.manage_argv("cell_v2", "discover_hosts", "--verbose"), timeout=300)
        out = procs.run(nova.manage_argv("cell_v2", "list_hosts"), timeout=300).stdout
        if set(hosts) <= mapped_hosts(out):
            return time.monotonic() - t0
        if time.monotonic() - t0 > timeout:
            raise procs.NotReady(f"{', '.join(sorted(set(hosts) - mapped_hosts(out)))} not "
                                 f"mapped into a cell after {timeout:.0f}s")
        time.sleep(10)


def up(lab: Lab, glance_url: str, say: Say = print) -> None:
    """Configure, (re)start and wait until every running node's nova-compute is up and
    mapped into cell1. Idempotent; needs the compute control plane (:func:`e2e.nova.up`)."""
    t0 = time.monotonic()
    require_image(lab)
    # A node's nova.conf or libvirtd.conf changed (or is new): restart with it.
    stop(lab, only=configure(lab, glance_url), services=RESTART_ON_CHANGE)
    since = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
    start_services(lab, say)
    waited = wait_computes(lab, since, say=say)
    say(f"e2e: nova-compute up on every node ({waited:.0f}s)")
    hosts = [node.name for node in lab.running_nodes()]
    waited = discover_hosts(hosts)
    say(f"e2e: {', '.join(hosts)} mapped into cell {nova.CELL} ({waited:.0f}s)")
    say(f"e2e: compute nodes up in {time.monotonic() - t0:.0f}s")
