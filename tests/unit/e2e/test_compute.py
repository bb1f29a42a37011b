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
"""e2e.compute's pure parts (the node side of E2E_NOVA=1): the rendered nova.conf,
libvirtd.conf, rootwrap.conf and cinder.conf [nova] section, the argv of each
service, start/stop order through e2e.nodes on fake nodes, the parsers, and that
nothing changes with E2E_NOVA off."""

from __future__ import annotations

import configparser
import re
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from e2e import compute, config, deploy, nodes, nova
from lab import config as lab_config
from lab.lab import Node

GLANCE = "http://10.77.0.11:9292"


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """STATE_DIR and NOVA_VENV in tmp_path (never the running deployment's)."""
    monkeypatch.setattr(config, "STATE_DIR", tmp_path / "e2e")
    monkeypatch.setattr(config, "NOVA_VENV", tmp_path / "nova-venv")
    monkeypatch.setattr(config, "AUTH", "keystone")
    return tmp_path


def _parse(text: str) -> configparser.ConfigParser:
    # oslo.config's [DEFAULT] is a section like the others, not inherited by them.
    parser = configparser.ConfigParser(interpolation=None, strict=True,
                                       default_section="-no-default-")
    parser.read_string(text)
    return parser


def _libvirt(text: str) -> dict[str, str]:
    """libvirtd.conf's ``key = value`` lines (values as written, quotes kept)."""
    pairs = {}
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            key, value = (part.strip() for part in line.split("=", 1))
            assert key not in pairs, f"{key} twice"
            pairs[key] = value
    return pairs


def test_nova_compute_conf(state: Path) -> None:
    text = compute.nova_conf("node2", "10.77.0.12", GLANCE)
    assert not re.search(r"{\w+}", text), "unrendered field"
    conf = _parse(text)
    assert conf["DEFAULT"]["host"] == "node2"
    assert conf["DEFAULT"]["my_ip"] == "10.77.0.12"
    assert conf["DEFAULT"]["compute_driver"] == "libvirt.LibvirtDriver"
    assert conf["DEFAULT"]["state_path"] == "/var/lib/nova"
    assert conf["DEFAULT"]["rootwrap_config"] == compute.ROOTWRAP_CONF == "/etc/nova/rootwrap.conf"
    assert conf["DEFAULT"]["config_drive_format"] == "vfat"
    libvirt = conf["libvirt"]
    assert (libvirt["virt_type"], libvirt["cpu_mode"], libvirt["images_type"]) == (
        "qemu", "none", "raw")
    assert libvirt["live_migration_scheme"] == "tcp"
    assert libvirt["live_migration_inbound_addr"] == "10.77.0.12"
    assert conf["oslo_concurrency"]["lock_path"] == "/var/lib/nova/locks"
    # nova-compute reaches the databases through nova-conductor only.
    assert not {"database", "api_database"} & set(conf.sections())
    assert "postgresql" not in text
    assert conf["vnc"]["enabled"] == "False"


def test_nova_compute_conf_points_where_the_host_side_does(state: Path) -> None:
    """Same endpoints, users and secrets as the host side's nova.conf (e2e.nova.values)."""
    node = _parse(compute.nova_conf("node1", "10.77.0.11", GLANCE))
    host = _parse(nova.write_configs(GLANCE)["nova.conf"].read_text())
    for section in ("keystone_authtoken", "service_user", "placement", "neutron", "cinder",
                    "glance", "oslo_messaging_rabbit"):
        assert dict(node[section]) == dict(host[section]), section
    for key in ("transport_url", "report_interval", "service_down_time"):
        assert node["DEFAULT"][key] == host["DEFAULT"][key]
    assert node["cinder"]["catalog_info"] == "volumev3:cinderv3:publicURL"
    assert node["placement"]["endpoint_override"] == config.placement_endpoint()
    assert node["neutron"]["endpoint_override"] == config.neutron_endpoint()
    assert node["service_user"]["send_service_user_token"] == "True"
    assert node["glance"]["endpoint_override"] == GLANCE


def test_libvirtd_conf() -> None:
    conf = _libvirt(compute.libvirtd_conf("node1", "10.77.0.11"))
    assert conf["listen_tcp"] == "1"
    assert conf["listen_tls"] == "0"
    assert conf["auth_tcp"] == '"none"'
    assert conf["listen_addr"] == '"10.77.0.11"'
    assert conf["auth_unix_rw"] == conf["auth_unix_ro"] == '"none"'
    assert conf["host_uuid"] == f'"{compute.host_uuid("node1")}"'


def test_host_uuid_stable_and_distinct() -> None:
    uuids = [compute.host_uuid(lab_config.node_name(i)) for i in range(1, 5)]
    assert len(set(uuids)) == 4
    assert uuids[0] == compute.host_uuid("node1")
    for u in uuids:  # libvirt rejects a host_uuid of all-equal digits
        assert str(uuid.UUID(u)) == u and len(set(u.replace("-", ""))) > 1


def test_rootwrap_conf() -> None:
    conf = _parse(compute.rootwrap_conf())["DEFAULT"]
    assert conf["filters_path"] == "/opt/nova-venv/etc/nova/rootwrap.d"
    # privsep-helper from nova's venv, not /usr/local/bin's (cinder's).
    dirs = conf["exec_dirs"].split(",")
    assert dirs[0] == "/opt/nova-venv/bin"
    assert dirs.index("/opt/nova-venv/bin") < dirs.index("/usr/local/bin")


def test_service_argv() -> None:
    assert compute.service_argv("node1", "virtlogd") == ["/usr/sbin/virtlogd"]
    assert compute.service_argv("node1", "libvirtd") == [
        "/usr/sbin/libvirtd", "--listen", "--config", "/etc/libvirt/e2e-libvirtd.conf"]
    argv = compute.service_argv("node2", "nova-compute")
    assert argv == ["/opt/nova-venv/bin/nova-compute", "--config-file", "/etc/nova/nova.conf",
                    "--log-file", "/lab-share/e2e/node2/nova-compute.log"]
    # nova's rootwrap filters name privsep-helper's --config-file under /etc.
    assert argv[argv.index("--config-file") + 1].startswith("/etc/")
    with pytest.raises(ValueError):
        compute.service_argv("node1", "cinder-volume")
    assert compute.SERVICES == ("virtlogd", "libvirtd", "nova-compute")


def test_setup_script_and_probe() -> None:
    script = compute.setup_script("node1").splitlines()
    assert script[0] == "set -e"
    assert ("mkdir -p /etc/nova /var/lib/nova/instances /var/lib/nova/locks "
            "/lab-share/e2e/node1") in script
    assert "ln -sf /opt/nova-venv/bin/nova-rootwrap /usr/local/bin/nova-rootwrap" in script
    assert "rm -f /etc/libvirt/qemu/networks/autostart/default.xml" in script
    assert compute.libvirt_probe("10.77.0.11") == (
        "virsh -c qemu:///system version >/dev/null && "
        "virsh -c qemu+tcp://10.77.0.11/system hostname")


# --- the [nova] section of the nodes' cinder.conf ----------------------------

def test_cinder_conf_unchanged_without_nova(state: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(config, "AUTH", "noauth")  # internal tenant without Keystone's ids
    node = Node(1, state / "lab")
    monkeypatch.setattr(config, "NOVA", False)
    plain = nodes.node_conf(node, GLANCE)
    assert "[nova]" not in plain
    assert plain == (config.TEMPLATES / "cinder-node.conf").read_text().format(
        **_node_values(node))
    monkeypatch.setattr(config, "NOVA", True)
    with_nova = nodes.node_conf(node, GLANCE)
    assert with_nova == plain + compute.cinder_nova_section()
    nova_section = _parse(with_nova)["nova"]
    assert nova_section["auth_type"] == "password"
    assert nova_section["auth_url"] == nova_section["token_auth_url"] == config.keystone_endpoint()
    assert nova_section["username"] == config.NOVA_USER
    assert nova_section["password"] == config.SERVICE_PASSWORD
    assert nova_section["project_name"] == config.SERVICE_PROJECT
    assert nova_section["region_name"] == config.REGION
    assert nova_section["interface"] == "public"


def _node_values(node: Node) -> dict[str, str]:
    """What nodes.node_conf renders with (cluster mode, noauth), restated."""
    return {
        "node": node.name, "node_ip": node.ip,
        "cluster_line": f"cluster = {config.CINDER_CLUSTER}", "backend_host_line": "",
        "transport_url": config.transport_url(), "db_url": config.db_url(),
        "glance_endpoint": GLANCE, "backends": ",".join(config.BACKENDS),
        "backup_dir": nodes.backup_dir(), "coordination_url": config.coordination_url(),
        "mount_root": config.MOUNT_ROOT, "mount_root_b": nodes.backend_b_root(),
        "images_dir": nodes.glance_store_dir(),
        "project_id": config.PROJECT_ID, "user_id": config.USER_ID,
    }


# --- processes, on fake nodes --------------------------------------------------

@dataclass
class Result:
    rc: int = 0
    stdout: str = ""

    @property
    def ok(self) -> bool:
        return self.rc == 0


@dataclass
class FakeNode:
    """Enough of lab.lab.Node for e2e.nodes' supervision and e2e.compute."""

    index: int
    has_nova: bool = True
    files: dict[str, str] = field(default_factory=dict)
    calls: list[tuple[str, object]] = field(default_factory=list)
    alive: set[int] = field(default_factory=set)
    next_pid: int = 100

    @property
    def name(self) -> str:
        return lab_config.node_name(self.index)

    @property
    def ip(self) -> str:
        return lab_config.node_ip(self.index)

    def running(self) -> bool:
        return True

    def exec(self, cmd: list[str] | str, timeout: float = 300.0, check: bool = False,
             **kw: object) -> Result:
        self.calls.append(("exec", cmd))
        if isinstance(cmd, list) and cmd[0] == "cat":
            text = self.files.get(cmd[1])
            return Result(0, text) if text is not None else Result(1)
        if isinstance(cmd, list) and cmd[:2] == ["test", "-x"]:
            return Result(0 if self.has_nova else 1)
        if isinstance(cmd, list) and cmd[:2] == ["kill", "-0"]:
            return Result(0 if int(cmd[2]) in self.alive else 1)
        if isinstance(cmd, str) and cmd.startswith("kill -TERM -"):
            self.alive.discard(int(cmd.split()[2][1:]))
        return Result()

    def sh(self, script: str, timeout: float = 300.0) -> str:
        self.calls.append(("sh", script))
        return ""

    def spawn(self, cmd: str, log: str = "/dev/null", env: dict[str, str] | None = None,
              **kw: object) -> int:
        self.next_pid += 1
        self.alive.add(self.next_pid)
        self.calls.append(("spawn", cmd))
        return self.next_pid

    def read_file(self, path: str) -> bytes:
        assert path == "/proc/sys/kernel/random/boot_id"
        return f"boot-{self.index}\n".encode()

    def write_file(self, path: str, data: str, mode: int = 0o644) -> None:
        self.calls.append(("write", (path, mode)))
        self.files[path] = data

    def spawned(self) -> list[str]:
        """The service names started, in order (from the command's banner)."""
        return [re.search(r"start ([\w-]+)'", str(cmd)).group(1)  # type: ignore[union-attr]
                for kind, cmd in self.calls if kind == "spawn"]


class FakeLab:
    def __init__(self, *fake: FakeNode) -> None:
        self.fake = {n.name: n for n in fake}

    def running_nodes(self) -> list[FakeNode]:
        return list(self.fake.values())

    def node(self, name: str) -> FakeNode:
        return self.fake[name]


@pytest.fixture
def lab(state: Path) -> FakeLab:
    return FakeLab(FakeNode(1), FakeNode(2))


def test_start_services_order_and_argv(lab: FakeLab) -> None:
    said: list[str] = []
    compute.start_services(lab, say=said.append)  # type: ignore[arg-type]
    for node in lab.running_nodes():
        assert node.spawned() == ["virtlogd", "libvirtd", "nova-compute"]
        spawns = [cmd for kind, cmd in node.calls if kind == "spawn"]
        assert spawns[2].endswith("exec " + " ".join(compute.service_argv(node.name,
                                                                          "nova-compute")))
        probe = node.calls.index(("exec", compute.libvirt_probe(node.ip)))
        assert probe < [c[0] for c in node.calls].index("spawn", probe)  # libvirt first
    assert said == ["e2e: libvirtd up on node1 (0s)", "e2e: libvirtd up on node2 (0s)"]
    pids = nodes._load_pids()
    assert set(pids["node1"]) == {"boot_id", *compute.SERVICES}
    # Idempotent: what runs is left alone.
    compute.start_services(lab, say=said.append)  # type: ignore[arg-type]
    assert lab.node("node1").spawned() == ["virtlogd", "libvirtd", "nova-compute"]


def test_stop_reverse_order_and_only(lab: FakeLab, monkeypatch: pytest.MonkeyPatch) -> None:
    compute.start_services(lab, say=lambda _: None)  # type: ignore[arg-type]
    pids = nodes._load_pids()
    nodes.spawn(lab.node("node1"), "cinder-volume", ["cinder-volume"])  # type: ignore[arg-type]
    compute.stop(lab, only=["node1"], services=compute.RESTART_ON_CHANGE)  # type: ignore[arg-type]
    killed = [cmd.split()[2][1:] for kind, cmd in lab.node("node1").calls
              if kind == "exec" and str(cmd).startswith("kill -TERM")]
    assert killed == [str(pids["node1"]["nova-compute"]), str(pids["node1"]["libvirtd"])]
    assert not any(str(cmd).startswith("kill -TERM") for _, cmd in lab.node("node2").calls)
    compute.stop(lab)  # type: ignore[arg-type]
    left = nodes._load_pids()
    assert set(left["node1"]) == {"boot_id", "cinder-volume"}  # cinder's is not compute's
    assert set(left["node2"]) == {"boot_id"}


def test_configure_writes_and_reports_changes(lab: FakeLab) -> None:
    assert compute.configure(lab, GLANCE) == ["node1", "node2"]  # type: ignore[arg-type]
    node = lab.node("node2")
    assert node.files[compute.NOVA_CONF] == compute.nova_conf("node2", node.ip, GLANCE)
    assert node.files[compute.LIBVIRTD_CONF] == compute.libvirtd_conf("node2", node.ip)
    assert node.files[compute.ROOTWRAP_CONF] == compute.rootwrap_conf()
    assert ("write", (compute.NOVA_CONF, 0o640)) in node.calls  # it holds passwords
    assert ("sh", compute.setup_script("node2")) in node.calls
    assert compute.configure(lab, GLANCE) == []  # type: ignore[arg-type]
    assert compute.configure(lab, "http://10.77.0.1:9292") == ["node1", "node2"]  # type: ignore[arg-type]


def test_require_image(lab: FakeLab) -> None:
    compute.require_image(lab)  # type: ignore[arg-type]
    lab.node("node2").has_nova = False
    assert compute.missing_image(lab) == ["node2"]  # type: ignore[arg-type]
    with pytest.raises(SystemExit, match="node2 booted without it.*E2E_NOVA=1 python -m e2e up"):
        compute.require_image(lab)  # type: ignore[arg-type]


# --- parsers -------------------------------------------------------------------

LIST_HOSTS = """\
+-----------+--------------------------------------+----------+
| Cell Name |              Cell UUID               | Hostname |
+-----------+--------------------------------------+----------+
|   cell1   | 5f0e9b8e-6a0e-4a4e-9a39-4f1e0d6f1c2a |  node1   |
|   cell1   | 5f0e9b8e-6a0e-4a4e-9a39-4f1e0d6f1c2a |  node2   |
+-----------+--------------------------------------+----------+
"""


def test_mapped_hosts() -> None:
    assert compute.mapped_hosts(LIST_HOSTS) == {"node1", "node2"}
    assert compute.mapped_hosts(LIST_HOSTS.replace("|  node2   |\n", "|  x  |\n")) == {
        "node1", "x"}
    assert compute.mapped_hosts("") == set()
    assert compute.mapped_hosts("\n".join(LIST_HOSTS.splitlines()[:3])) == set()


def test_fresh_services() -> None:
    rows = [
        {"Binary": "nova-compute", "Host": "node1", "State": "up",
         "Updated At": "2026-12-05T10:00:12.000000"},
        {"Binary": "nova-compute", "Host": "node2", "State": "up",
         "Updated At": "2026-12-05T09:59:00.000000"},  # from its previous life
        {"Binary": "nova-compute", "Host": "node3", "State": "down",
         "Updated At": "2026-12-05T10:00:30.000000"},
        {"Binary": "nova-scheduler", "Host": "e2e-control", "State": "up",
         "Updated At": "2026-12-05T10:00:20.000000"},
        {"Binary": "nova-conductor", "Host": "e2e-control", "State": "up", "Updated At": None},
    ]
    assert nova.fresh_services(rows, since="2026-12-05T10:00:00") == {
        ("nova-compute", "node1"), ("nova-scheduler", "e2e-control")}


def test_discover_hosts_argv(state: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[list[str]] = []

    def run(argv: list[str], **kw: object) -> Result:
        ran.append(list(argv))
        return Result(0, LIST_HOSTS if "list_hosts" in argv else "")

    monkeypatch.setattr(compute.procs, "run", run)
    compute.discover_hosts(["node1", "node2"])
    manage = [str(state / "nova-venv/bin/nova-manage"), "--config-file",
              str(state / "e2e/compute/nova.conf"), "cell_v2"]
    assert ran == [[*manage, "discover_hosts", "--verbose"], [*manage, "list_hosts"]]
    assert nova.manage_argv("cell_v2", "list_cells") == [*manage, "list_cells"]


# --- E2E_NOVA off: deploy does not touch compute ---------------------------------

def test_down_without_nova_leaves_compute_to_nodes_stop(
        state: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    class Lab:
        class state:  # noqa: N801 - stands in for lab.lab.State
            nodes = 2

        def down(self) -> None:
            calls.append("lab.down")

    monkeypatch.setattr(deploy, "Lab", Lab)
    monkeypatch.setattr(deploy.nodes, "stop", lambda lab: calls.append("nodes.stop"))
    monkeypatch.setattr(deploy.compute, "stop", lambda lab: calls.append("compute.stop"))
    monkeypatch.setattr(deploy.nova, "down", lambda: calls.append("nova.down"))
    monkeypatch.setattr(deploy.control, "down", lambda: calls.append("control.down"))
    monkeypatch.setattr(config, "NOVA", False)
    deploy.down(say=lambda _: None)
    assert calls == ["nodes.stop", "nova.down", "control.down", "lab.down"]
    calls.clear()
    monkeypatch.setattr(config, "NOVA", True)
    deploy.down(say=lambda _: None)
    assert calls == ["compute.stop", "nodes.stop", "nova.down", "control.down", "lab.down"]


@pytest.mark.parametrize("nova_on", [False, True])
def test_ensure_lab_asks_for_the_compute_image_only_with_nova(
        nova_on: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[bool] = []

    class Lab:
        class state:  # noqa: N801
            nodes = 0

        def is_up(self) -> bool:
            return False

        def up(self, nodes: int, say: object) -> Lab:
            seen.append(lab_config.COMPUTE)
            return self

    monkeypatch.setattr(deploy, "Lab", Lab)
    monkeypatch.setattr(lab_config, "COMPUTE", False)
    monkeypatch.setattr(lab_config, "NODE_MEMORY_MB", lab_config.NODE_MEMORY_MB)
    monkeypatch.setattr(config, "NOVA", nova_on)
    _, fresh = deploy.ensure_lab(say=lambda _: None)
    assert fresh and seen == [nova_on]


# --- ready to use: the tiny guest image and flavor tiny ----------------------------

@pytest.mark.parametrize("present", [False, True])
def test_ensure_guest_makes_image_and_flavor_once(
        present: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from e2e import api, clients, guest_image
    image = tmp_path / "tiny-guest.raw"
    monkeypatch.setattr(guest_image, "build", lambda: image)

    class Shown:
        returncode = 0 if present else 1

    shown: list[list[str]] = []
    made: list[tuple[str, ...]] = []
    monkeypatch.setattr(clients, "cli", lambda argv, check=True: shown.append(argv) or Shown())
    monkeypatch.setattr(api, "osc", lambda *args, **kw: made.append(args) or "")
    deploy.ensure_guest(say=lambda _: None)
    assert shown == [["openstack", "image", "show", "tiny-guest"],
                     ["openstack", "flavor", "show", "tiny"]]
    if present:
        assert made == []
        return
    # Glance's policy refuses --public to the deployment's admin (publicize_image).
    assert made == [
        ("image", "create", "--disk-format", "raw", "--container-format", "bare",
         "--file", str(image), "tiny-guest"),
        ("flavor", "create", "--ram", "192", "--disk", "1", "--vcpus", "1", "tiny")]


def test_cinder_services_run_as_the_service_user(lab: FakeLab,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """e2e.nodes starts cinder-volume and cinder-backup as CINDER_USER (setpriv, with
    its groups: libvirt-qemu), handing it its log first; as root with "root"."""
    monkeypatch.setattr(config, "CINDER_USER", "cinder")
    nodes.start_services(lab)  # type: ignore[arg-type]
    node1 = lab.node("node1")
    assert node1.spawned() == list(nodes.SERVICES)
    volume = [cmd for kind, cmd in node1.calls if kind == "spawn"][0]
    log = nodes.guest_log("node1", "cinder-volume")
    assert volume.startswith(f"chown cinder: {log}; ")
    assert (f"; exec setpriv --reuid=cinder --regid=cinder --init-groups "
            f"{config.NODE_VENV}/bin/cinder-volume --config-file") in volume
    monkeypatch.setattr(config, "CINDER_USER", "root")
    node2 = lab.node("node2")
    nodes.stop(lab)  # type: ignore[arg-type]
    node2.calls.clear()
    nodes.start_services(lab)  # type: ignore[arg-type]
    volume = [cmd for kind, cmd in node2.calls if kind == "spawn"][0]
    assert "setpriv" not in volume and "chown" not in volume
    assert f"; exec {config.NODE_VENV}/bin/cinder-volume --config-file" in volume


def test_service_user_script(tmp_path: Path) -> None:
    script = nodes.service_user_script("cinder", 950)
    (tmp_path / "user.sh").write_text(script)
    subprocess.run(["sh", "-n", str(tmp_path / "user.sh")], check=True)
    assert "useradd --system --uid 950 --gid cinder" in script
    assert "groupadd --system --gid 950 cinder" in script
    assert "usermod -a -G libvirt-qemu cinder" in script
    assert ("cinder ALL = (root) NOPASSWD: /usr/local/bin/cinder-rootwrap "
            f"{config.NODE_CONF_DIR}/rootwrap.conf *") in script
    for label in (config.PRIMARY_LABEL, config.SECOND_LABEL, config.BACKEND_B_LABEL):
        assert nodes.pool_dir(label) in script
    assert "find /var/lib/cinder -xdev -exec chown cinder:cinder {} +" in script
    assert f"chown -R cinder:cinder {nodes.backup_dir()}" in script
