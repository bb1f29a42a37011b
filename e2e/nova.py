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
"""The compute control plane on the host side, in the lab's netns (``E2E_NOVA=1``).

Placement, nova-api, nova-conductor, nova-scheduler and neutron-server (ML2,
flat/local networks, no agents: servers boot with ``--nic none``), all of
OpenStack 2026.2 "Hibiscus", the release of Cinder 29 (:data:`PACKAGES`),
from their own venv (``config.NOVA_VENV``, ``.lab/nova-venv``): they pin
libraries Cinder's venv must not be made to share. Their databases are in
the deployment's PostgreSQL (:data:`DATABASES`), their users, services and
endpoints in its Keystone (:func:`catalog`, :func:`service_users`, which
:func:`e2e.keystone.register` adds). The three APIs are WSGI applications,
served by :func:`serve` (a threaded stdlib server: nova-api calls cinder,
glance, neutron and placement while handling a request);
conductor and scheduler are nova's own console scripts. Every process is
supervised by :mod:`e2e.procs` as ``compute/<name>``: pid files and configs
are in ``STATE_DIR/compute``, logs in ``STATE_DIR/logs/compute`` (out of the
scenario's log check until the node side lands).

``python -m e2e nova up|down`` runs just this part against a running
deployment; ``python -m e2e.nova serve NAME MODULE HOST PORT`` is the WSGI runner
(the venv's python runs it).
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import socketserver
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from e2e import config, control, procs
from lab import image as lab_image

Say = Callable[[str], None]

#: One OpenStack release: 2026.2 "Hibiscus", the release of Cinder 29 and Keystone 30
#: (nova 34's service version aliases end at Hibiscus; neutron 29 and placement 16
#: were released with it, 2026-09-30). Upstream's constraints are not reachable from
#: here, so the services are pinned and their libraries resolved by pip. nova's pin
#: is the lab's compute image's (nova-compute on the nodes, :mod:`e2e.compute`).
PACKAGES = (lab_image.NOVA_REQUIREMENT, "openstack-placement==16.0.0", "neutron==29.0.0",
            "psycopg2-binary")
DATABASES = ("nova_api", "nova", "nova_cell0", "placement", "neutron")
CELL = "cell1"
#: (parent, revision) of neutron's one migration PostgreSQL cannot run: 2025.2's
#: tag_case_sensitive is MySQL's ``ALTER TABLE tags CONVERT TO CHARACTER SET utf8mb4
#: COLLATE utf8mb4_bin`` (neutron no longer tests PostgreSQL). PostgreSQL compares
#: tags case-sensitively already, so the schema is upgraded to its parent, the
#: revision is stamped as done, and the upgrade goes on to the heads.
NEUTRON_MYSQL_ONLY = ("ad80a9f07c5c", "d553edeb540f")
#: The WSGI services: supervised name -> (module with ``application``, port).
WSGI = {
    "placement-api": ("placement.wsgi.api", config.PLACEMENT_PORT),
    "nova-api": ("nova.wsgi.osapi_compute", config.NOVA_API_PORT),
    "neutron-server": ("neutron.wsgi.api", config.NEUTRON_PORT),
}
#: Nova's own daemons (console scripts of the venv).
DAEMONS = ("nova-conductor", "nova-scheduler")
#: Start order; stopped in reverse.
SERVICES = ("placement-api", "neutron-server", "nova-conductor", "nova-scheduler", "nova-api")
HOST_NAME = "e2e-control"


def base_dir() -> Path:
    """Configs (nova.conf, api-paste.ini, placement.conf, neutron.conf, ml2_conf.ini)."""
    return config.STATE_DIR / "compute"


def log_dir() -> Path:
    return config.STATE_DIR / "logs" / "compute"


def proc_name(service: str) -> str:
    """The :mod:`e2e.procs` name: pid file and log under ``compute/``."""
    return f"compute/{service}"


def _bin(name: str) -> str:
    return str(config.NOVA_VENV / "bin" / name)


# --- keystone (called by e2e.keystone.register, inside the netns) ----------

def catalog() -> list[tuple[str, str, str]]:
    """(service name, type, url) of the compute control plane's endpoints."""
    return [("nova", "compute", config.nova_endpoint()),
            ("placement", "placement", config.placement_endpoint()),
            ("neutron", "network", config.neutron_endpoint())]


def service_users() -> list[str]:
    return [config.NOVA_USER, config.PLACEMENT_USER, config.NEUTRON_USER]


# --- configuration ---------------------------------------------------------

def values(glance_url: str) -> dict[str, object]:
    """What the templates are rendered with."""
    return {
        "host_ip": config.HOST_IP,
        "host_name": HOST_NAME,
        "state_dir": base_dir(),
        "config_dir": base_dir(),
        "log_dir": log_dir(),
        "transport_url": config.transport_url(),
        "api_db_url": config.db_url("nova_api"),
        "keystone_url": config.keystone_endpoint(),
        "region": config.REGION,
        "service_project": config.SERVICE_PROJECT,
        "service_password": config.SERVICE_PASSWORD,
        "nova_user": config.NOVA_USER,
        "placement_user": config.PLACEMENT_USER,
        "neutron_user": config.NEUTRON_USER,
        "placement_url": config.placement_endpoint(),
        "neutron_url": config.neutron_endpoint(),
        "glance_url": glance_url,
        "api_paste": config.NOVA_VENV / "etc/neutron/api-paste.ini",
    }


def write_configs(glance_url: str) -> dict[str, Path]:
    """Render every config file into :func:`base_dir`; name -> path."""
    base, v = base_dir(), values(glance_url)
    made = {
        "nova.conf": control.render("nova.conf", base / "nova.conf", **v,
                                    db_url=config.db_url("nova")),
        "placement.conf": control.render("placement.conf", base / "placement.conf", **v,
                                         db_url=config.db_url("placement"),
                                         log_file=log_dir() / "placement-api.log"),
        "neutron.conf": control.render("neutron.conf", base / "neutron.conf", **v,
                                       db_url=config.db_url("neutron"),
                                       log_file=log_dir() / "neutron-server.log"),
        "ml2_conf.ini": control.render("ml2_conf.ini", base / "ml2_conf.ini", **v),
    }
    # nova-api's own log file: oslo.log would name it after the outermost stack
    # frame's file, "<frozen runpy>" under ``python -m``.
    api_conf = base / "nova-api.conf"
    api_conf.write_text(f"[DEFAULT]\nlog_file = {log_dir() / 'nova-api.log'}\n")
    made["nova-api.conf"] = api_conf
    paste = config.NOVA_VENV / "etc/nova/api-paste.ini"
    if paste.exists():  # nova's wsgi_app reads it next to nova.conf
        shutil.copyfile(paste, base / "api-paste.ini")
        made["api-paste.ini"] = base / "api-paste.ini"
    return made


def service_env(service: str) -> dict[str, str]:
    """Where each WSGI application finds its configuration."""
    base = str(base_dir())
    env = {"PYTHONPATH": str(config.REPO_ROOT)}
    if service == "nova-api":
        env |= {"OS_NOVA_CONFIG_DIR": base,
                "OS_NOVA_CONFIG_FILES": "api-paste.ini;nova.conf;nova-api.conf"}
    elif service == "placement-api":
        env["OS_PLACEMENT_CONFIG_DIR"] = base
    elif service == "neutron-server":
        env |= {"OS_NEUTRON_CONFIG_DIR": base,
                "OS_NEUTRON_CONFIG_FILES": "neutron.conf;ml2_conf.ini"}
    return env


def service_argv(service: str) -> list[str]:
    if service in WSGI:
        module, port = WSGI[service]
        return [_bin("python"), "-m", "e2e.nova", "serve", service, module, config.HOST_IP,
                str(port)]
    return [_bin(service), "--config-file", str(base_dir() / "nova.conf")]


def manage_argv(*args: str) -> list[str]:
    """``nova-manage`` of the venv with the host side's nova.conf, then ``args``."""
    return [_bin("nova-manage"), "--config-file", str(base_dir() / "nova.conf"), *args]


def sync_commands() -> list[tuple[str, list[str]]]:
    """(label, argv) of the schema syncs and cell setup, in order; each is idempotent."""
    nova = manage_argv()
    return [
        ("placement db sync", [_bin("placement-manage"), "--config-file",
                               str(base_dir() / "placement.conf"), "db", "sync"]),
        ("nova api_db sync", [*nova, "api_db", "sync"]),
        ("nova cell_v2 map_cell0", [*nova, "cell_v2", "map_cell0", "--database_connection",
                                    config.db_url("nova_cell0")]),
        (f"nova cell_v2 create_cell {CELL}", [*nova, "cell_v2", "create_cell", "--name", CELL]),
        ("nova db sync", [*nova, "db", "sync"]),
        (f"neutron-db-manage upgrade {NEUTRON_MYSQL_ONLY[0]}",
         [*_neutron_manage(), "upgrade", NEUTRON_MYSQL_ONLY[0]]),
        ("neutron-db-manage upgrade heads", [*_neutron_manage(), "upgrade", "heads"]),
    ]


def _neutron_manage() -> list[str]:
    return [_bin("neutron-db-manage"), "--config-file", str(base_dir() / "neutron.conf"),
            "--config-file", str(base_dir() / "ml2_conf.ini")]


def _neutron_revisions() -> set[str]:
    """neutron's alembic_version rows (empty before the first upgrade)."""
    proc = procs.run(["psql", "-h", config.HOST_IP, "-p", str(config.PG_PORT), "-U",
                      "postgres", "neutron", "-tAc", "SELECT version_num FROM alembic_version"],
                     check=False)
    return set(proc.stdout.split()) if proc.returncode == 0 else set()


# --- install, databases, services -------------------------------------------

def ensure_venv(say: Say) -> float:
    """pip install :data:`PACKAGES` into ``config.NOVA_VENV`` once; seconds it took."""
    marker = config.NOVA_VENV / (".installed-" + "-".join(PACKAGES))
    if marker.exists():
        return 0.0
    t0 = time.monotonic()
    say(f"e2e: installing {' '.join(PACKAGES)} into {config.NOVA_VENV}")
    if not (config.NOVA_VENV / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(config.NOVA_VENV)], check=True)
    pip = [_bin("python"), "-m", "pip", "install", "-q"]
    log_dir().mkdir(parents=True, exist_ok=True)
    with (log_dir() / "pip.log").open("a") as log:
        for args in (["--upgrade", "pip"], list(PACKAGES)):
            if subprocess.run([*pip, *args], stdout=log, stderr=log).returncode:
                raise SystemExit(f"e2e: pip install {' '.join(args)} failed; "
                                 f"see {log_dir() / 'pip.log'}")
    marker.write_text("")
    return time.monotonic() - t0


def sync_databases(say: Say) -> None:
    """Databases, schemas and cells; skipped once done for these package versions."""
    marker = base_dir() / "synced"
    if marker.exists() and marker.read_text().strip() == " ".join(PACKAGES):
        return
    for name in DATABASES:
        control.ensure_database(name)
    for label, argv in sync_commands():
        if "create_cell" in label and _cell_exists():
            continue
        _timed(say, label, argv)
        if label.endswith(NEUTRON_MYSQL_ONLY[0]) and NEUTRON_MYSQL_ONLY[0] in _neutron_revisions():
            _timed(say, f"neutron-db-manage stamp {NEUTRON_MYSQL_ONLY[1]} (MySQL only)",
                   [*_neutron_manage(), "stamp", NEUTRON_MYSQL_ONLY[1]])
    marker.write_text(" ".join(PACKAGES) + "\n")


def _timed(say: Say, label: str, argv: list[str]) -> None:
    t0 = time.monotonic()
    procs.run(argv, timeout=900)
    say(f"e2e: {label} done ({time.monotonic() - t0:.0f}s)")


def _cell_exists() -> bool:
    out = procs.run(manage_argv("cell_v2", "list_cells"), timeout=300).stdout
    return any(f" {CELL} " in line for line in out.splitlines())


def register(glance_url: str) -> None:
    """Users, services and endpoints in Keystone (:func:`e2e.keystone.register`)."""
    procs.run([str(config.HOST_VENV / "bin" / "python"), "-m", "e2e.keystone", "register",
               glance_url], env={"PYTHONPATH": str(config.REPO_ROOT), "E2E_NOVA": "1"},
              timeout=300)


def glance_from_catalog() -> str:
    """The image endpoint Keystone has (glance on node1 or on the host side)."""
    from e2e import clients

    out = clients.cli(["openstack", "endpoint", "list", "--service", "image", "--interface",
                       "public", "-f", "value", "-c", "URL"]).stdout.split()
    return out[0] if out else config.glance_endpoint()


def fresh_services(rows: list[dict[str, Any]], since: str = "") -> set[tuple[str, str]]:
    """(binary, host) of the rows of ``compute service list -f json`` that are up
    with a heartbeat newer than ``since`` (UTC, ISO format)."""
    return {(r.get("Binary") or "", r.get("Host") or "") for r in rows
            if r.get("State") == "up" and (r.get("Updated At") or "") > since}


def compute_services(since: str = "") -> set[tuple[str, str]]:
    """:func:`fresh_services` of the deployment now (empty if the API does not answer).

    The heartbeats are written by nova-conductor, so their times are the host's
    clock, whichever node a service runs on.
    """
    from e2e import clients

    proc = clients.cli(["openstack", "compute", "service", "list", "-f", "json"],
                       check=False)
    try:
        rows = json.loads(proc.stdout or "[]")
    except ValueError:
        rows = []
    return fresh_services(rows if isinstance(rows, list) else [], since)


def wait_compute_services(since: str = "", timeout: float = 300.0) -> float:
    """Until ``compute service list`` has conductor and scheduler up.

    Only heartbeats newer than ``since`` (UTC, ISO format; the host's clock, the
    services' too) count: a service restarted a moment ago still shows "up"
    from its previous life.
    """
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if set(DAEMONS) <= {binary for binary, _ in compute_services(since)}:
            return time.monotonic() - t0
        time.sleep(5)
    raise procs.NotReady(f"nova-conductor/nova-scheduler not up after {timeout:.0f}s; "
                         f"see {log_dir()}")


def up(say: Say = print, glance_url: str | None = None) -> None:
    """Install, configure, sync, register and start; idempotent."""
    if config.AUTH != "keystone":
        raise SystemExit("e2e: the compute control plane needs Keystone (E2E_AUTH=keystone)")
    t0 = time.monotonic()
    took = ensure_venv(say)
    if took:
        say(f"e2e: compute venv installed ({took:.0f}s)")
    for sub in ("nova/locks", "neutron/locks"):
        (base_dir() / sub).mkdir(parents=True, exist_ok=True)
    log_dir().mkdir(parents=True, exist_ok=True)
    glance_url = glance_url or glance_from_catalog()
    before = _read_configs()
    write_configs(glance_url)
    if before and before != _read_configs():
        say("e2e: compute configuration changed; restarting its services")
        down()
    t1 = time.monotonic()
    register(glance_url)
    say(f"e2e: keystone users and endpoints for nova, placement, neutron "
        f"({time.monotonic() - t1:.0f}s)")
    sync_databases(say)
    since = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
    for service in SERVICES:
        procs.start(proc_name(service), service_argv(service), env=service_env(service))
    for service, (_, port) in WSGI.items():
        waited = procs.wait_port(proc_name(service), port, timeout=300)
        say(f"e2e: {service} up on {config.HOST_IP}:{port} ({waited:.0f}s)")
    waited = wait_compute_services(since)
    say(f"e2e: nova-conductor and nova-scheduler up ({waited:.0f}s more)")
    say(f"e2e: compute control plane up in {time.monotonic() - t0:.0f}s")


def _read_configs() -> str:
    return "".join(p.read_text() for p in sorted(base_dir().glob("*.conf"))
                   + sorted(base_dir().glob("*.ini")))


def down() -> None:
    """Stop every compute service (no-op for those not running)."""
    for service in reversed(SERVICES):
        procs.stop(proc_name(service))


# --- the WSGI runner (the nova venv's python) --------------------------------

def serve(name: str, module: str, host: str, port: int) -> None:
    """Serve ``module.application`` on ``host:port`` as ``name``, a thread per request.

    The stdlib's server: nova-api's handlers call other services (cinder,
    glance, neutron, placement) synchronously, so one blocked request must not
    hold the others (eventlet's server, as for keystone, would serialize them
    without monkey patching, which nova 34's WSGI entry point turns off).
    """
    from wsgiref import simple_server

    # The applications parse sys.argv with oslo.config, and nova names its log
    # file after sys.argv[0] (``log_dir``): leave them just the service's name.
    sys.argv = [name]
    application = importlib.import_module(module).application
    # Finish SQLAlchemy's mappers before the first request. Their backrefs exist only
    # once configured, and neutron's get_ports names one at class level
    # (``Port.port_forwardings``): a fresh neutron-server whose first query is a port
    # list (nova's, at server create) answered 500, "type object 'Port' has no
    # attribute 'port_forwardings'" (CI, 2026-12-06).
    from sqlalchemy import orm
    orm.configure_mappers()

    class Server(socketserver.ThreadingMixIn, simple_server.WSGIServer):
        daemon_threads = True
        allow_reuse_address = True

    class Handler(simple_server.WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass  # the services log their own requests

    httpd = simple_server.make_server(host, port, application, server_class=Server,
                                      handler_class=Handler)
    httpd.serve_forever()


def main(argv: list[str]) -> int:
    if len(argv) != 5 or argv[0] != "serve":
        print("usage: python -m e2e.nova serve NAME MODULE HOST PORT", file=sys.stderr)
        return 2
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    serve(argv[1], argv[2], argv[3], int(argv[4]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
