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
"""e2e.nova's pure parts: the rendered configs, the commands, the catalog, the
E2E_NOVA switch, and that its WSGI runner serves requests concurrently."""

import configparser
import importlib
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from e2e import config, control, nova, procs

GLANCE = "http://10.77.0.11:9292"


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """STATE_DIR and NOVA_VENV in tmp_path (never the running deployment's)."""
    monkeypatch.setattr(config, "STATE_DIR", tmp_path / "e2e")
    monkeypatch.setattr(config, "NOVA_VENV", tmp_path / "nova-venv")
    paste = tmp_path / "nova-venv" / "etc" / "nova" / "api-paste.ini"
    paste.parent.mkdir(parents=True)
    paste.write_text("[composite:osapi_compute]\nuse = call:nova.api.openstack.urlmap:urlmap\n")
    return tmp_path


def _parse(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.read_string(path.read_text())
    return parser


def test_configs_render_every_file(state: Path) -> None:
    made = nova.write_configs(GLANCE)
    assert set(made) == {"nova.conf", "nova-api.conf", "placement.conf", "neutron.conf",
                         "ml2_conf.ini", "api-paste.ini"}
    for path in made.values():
        assert path.parent == state / "e2e" / "compute"
        text = path.read_text()
        assert "{" not in text.replace("{ ", ""), f"unrendered field in {path.name}"
        _parse(path)  # valid ini, no duplicate sections or keys


def test_nova_conf_points_at_the_deployment(state: Path) -> None:
    conf = _parse(nova.write_configs(GLANCE)["nova.conf"])
    pg = f"postgresql+psycopg2://postgres@{config.HOST_IP}:{config.PG_PORT}"
    assert conf["api_database"]["connection"] == f"{pg}/nova_api"
    assert conf["database"]["connection"] == f"{pg}/nova"
    assert conf["DEFAULT"]["transport_url"] == config.transport_url()
    assert conf["glance"]["endpoint_override"] == GLANCE
    assert conf["placement"]["endpoint_override"] == config.placement_endpoint()
    assert conf["neutron"]["endpoint_override"] == config.neutron_endpoint()
    # The catalog entry e2e.keystone registers for cinder-api (type volumev3, name cinderv3).
    assert conf["cinder"]["catalog_info"] == "volumev3:cinderv3:publicURL"
    assert conf["service_user"]["send_service_user_token"] == "True"
    for section, user in (("keystone_authtoken", "nova"), ("service_user", "nova"),
                          ("cinder", "nova"), ("placement", "placement"),
                          ("neutron", "neutron")):
        assert conf[section]["username"] == user
        assert conf[section]["auth_url"] == config.keystone_endpoint()
        assert conf[section]["project_name"] == config.SERVICE_PROJECT
        assert conf[section]["password"] == config.SERVICE_PASSWORD
    assert conf["conductor"]["workers"] == conf["scheduler"]["workers"] == "1"
    assert conf["wsgi"]["api_paste_config"] == str(state / "e2e/compute/api-paste.ini")
    api = _parse(state / "e2e/compute/nova-api.conf")
    assert api["DEFAULT"]["log_file"] == str(state / "e2e/logs/compute/nova-api.log")


def test_placement_and_neutron_confs(state: Path) -> None:
    made = nova.write_configs(GLANCE)
    placement = _parse(made["placement.conf"])
    assert placement["placement_database"]["connection"].endswith("/placement")
    assert placement["keystone_authtoken"]["username"] == "placement"
    neutron = _parse(made["neutron.conf"])
    assert neutron["DEFAULT"]["core_plugin"] == "ml2"
    assert neutron["DEFAULT"]["api_paste_config"] == str(
        state / "nova-venv/etc/neutron/api-paste.ini")
    assert neutron["database"]["connection"].endswith("/neutron")
    assert neutron["keystone_authtoken"]["username"] == "neutron"
    assert neutron["nova"]["username"] == "nova"
    ml2 = _parse(made["ml2_conf.ini"])
    assert ml2["ml2"]["type_drivers"] == "flat,local"
    assert ml2["ml2"]["mechanism_drivers"] == ""


def test_wsgi_services_find_their_configs(state: Path) -> None:
    made = nova.write_configs(GLANCE)
    base = state / "e2e" / "compute"
    env = nova.service_env("neutron-server")
    files = [base / f for f in env["OS_NEUTRON_CONFIG_FILES"].split(";")]
    assert files == [made["neutron.conf"], made["ml2_conf.ini"]]
    env = nova.service_env("nova-api")
    assert [base / f for f in env["OS_NOVA_CONFIG_FILES"].split(";")] == [
        made["api-paste.ini"], made["nova.conf"], made["nova-api.conf"]]
    assert nova.service_env("placement-api")["OS_PLACEMENT_CONFIG_DIR"] == str(base)
    assert (base / "placement.conf").exists()  # placement reads exactly this name


def test_service_argv(state: Path) -> None:
    venv = state / "nova-venv" / "bin"
    assert nova.service_argv("nova-api") == [
        str(venv / "python"), "-m", "e2e.nova", "serve", "nova-api",
        "nova.wsgi.osapi_compute", config.HOST_IP, str(config.NOVA_API_PORT)]
    assert nova.service_argv("nova-conductor") == [
        str(venv / "nova-conductor"), "--config-file", str(state / "e2e/compute/nova.conf")]
    assert set(nova.SERVICES) == set(nova.WSGI) | set(nova.DAEMONS)
    assert nova.proc_name("nova-api") == "compute/nova-api"


def test_sync_commands_in_order(state: Path) -> None:
    steps = nova.sync_commands()
    labels = [label for label, _ in steps]
    assert labels == ["placement db sync", "nova api_db sync", "nova cell_v2 map_cell0",
                      "nova cell_v2 create_cell cell1", "nova db sync",
                      "neutron-db-manage upgrade ad80a9f07c5c",
                      "neutron-db-manage upgrade heads"]
    argv = dict(steps)
    assert argv["nova cell_v2 map_cell0"][-2:] == ["--database_connection",
                                                   config.db_url("nova_cell0")]
    assert argv["neutron-db-manage upgrade heads"][-2:] == ["upgrade", "heads"]
    assert nova.NEUTRON_MYSQL_ONLY[0] in labels[-2]
    # Every database a config or command names is one that sync_databases creates.
    made = nova.write_configs(GLANCE)
    text = " ".join(" ".join(a) for _, a in steps) + "".join(
        p.read_text() for p in made.values())
    for name in ("nova_api", "nova_cell0", "placement", "neutron"):
        assert f"/{name}" in text and name in nova.DATABASES
    assert "nova" in nova.DATABASES


def test_catalog_and_users() -> None:
    assert nova.catalog() == [
        ("nova", "compute", f"http://{config.HOST_IP}:{config.NOVA_API_PORT}/v2.1"),
        ("placement", "placement", f"http://{config.HOST_IP}:{config.PLACEMENT_PORT}"),
        ("neutron", "network", f"http://{config.HOST_IP}:{config.NEUTRON_PORT}")]
    assert nova.service_users() == ["nova", "placement", "neutron"]
    assert all(p.count("==") == 1 for p in nova.PACKAGES if p != "psycopg2-binary")


def test_e2e_nova_is_on_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    try:
        monkeypatch.delenv("E2E_NOVA", raising=False)
        assert importlib.reload(config).NOVA is True
        monkeypatch.setenv("E2E_NOVA", "0")
        assert importlib.reload(config).NOVA is False
    finally:
        monkeypatch.delenv("E2E_NOVA", raising=False)
        importlib.reload(config)


def test_control_down_stops_compute_first(state: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stopped: list[str] = []
    monkeypatch.setattr(procs, "stop", lambda name, timeout=20.0: stopped.append(name))
    monkeypatch.setattr(config, "NOVA", False)  # stopped whatever the switch says now
    control.down()
    compute = [nova.proc_name(s) for s in reversed(nova.SERVICES)]
    assert stopped[:len(compute)] == compute
    assert "cinder-api" in stopped and "postgres" in stopped


APP = '''
import threading
released = threading.Event()

def application(environ, start_response):
    if environ["PATH_INFO"] == "/release":
        released.set()
        body = b"ok"
    else:
        body = b"released" if released.wait(10) else b"timeout"
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]
'''


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_handles_requests_concurrently(tmp_path: Path) -> None:
    """A request blocked in the application does not hold the next one."""
    (tmp_path / "blocking_app.py").write_text(APP)
    port = _free_port()
    repo = Path(nova.__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=f"{tmp_path}:{repo}")
    server = subprocess.Popen([sys.executable, "-m", "e2e.nova", "serve", "probe",
                               "blocking_app", "127.0.0.1", str(port)], env=env)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None
                time.sleep(0.1)
        got: list[bytes] = []
        waiter = threading.Thread(
            target=lambda: got.append(urllib.request.urlopen(f"{url}/wait", timeout=15).read()))
        waiter.start()
        time.sleep(0.3)
        assert urllib.request.urlopen(f"{url}/release", timeout=5).read() == b"ok"
        waiter.join(15)
        assert got == [b"released"]
    finally:
        server.terminate()
        server.wait(10)
