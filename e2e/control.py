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
"""The host side's control plane, inside the lab's netns.

rabbitmq-server and PostgreSQL from apt, cinder-api and cinder-scheduler
from the host venv, glance-api (noauth, file store) and keystone
(:mod:`e2e.keystone`, unless ``E2E_AUTH=noauth``), and with ``E2E_NOVA=1``
the compute control plane (:mod:`e2e.nova`). Each runs as a
supervised process (:mod:`e2e.procs`) with its state under
``STATE_DIR``; ``up()`` is idempotent, ``down()`` stops everything.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from e2e import config, procs

Say = Callable[[str], None]


def render(template: str, dest: Path, **values: object) -> Path:
    """Render ``templates/<template>`` with ``str.format`` values into ``dest``."""
    text = (config.TEMPLATES / template).read_text().format(**values)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".tmp-{dest.name}")
    tmp.write_text(text)
    tmp.replace(dest)
    return dest


def _common_values() -> dict[str, object]:
    return {
        "host_ip": config.HOST_IP,
        "state_dir": config.STATE_DIR,
        "host_venv": config.HOST_VENV,
        "transport_url": config.transport_url(),
        "db_url": config.db_url(),
        "glance_endpoint": config.glance_endpoint(),
        "cinder_api_port": config.CINDER_API_PORT,
        "glance_port": config.GLANCE_PORT,
        "rabbit_port": config.RABBIT_PORT,
        "backends": ",".join(config.BACKENDS),
    }


# --- rabbitmq ------------------------------------------------------------

def _rabbit_env() -> dict[str, str]:
    base = config.STATE_DIR / "rabbit"
    return {
        "HOME": str(base),
        "RABBITMQ_NODENAME": "e2e@localhost",
        "RABBITMQ_NODE_IP_ADDRESS": config.HOST_IP,
        "RABBITMQ_NODE_PORT": str(config.RABBIT_PORT),
        "RABBITMQ_DIST_PORT": str(config.RABBIT_DIST_PORT),
        "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
        "RABBITMQ_LOG_BASE": str(base / "log"),
        "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
        "RABBITMQ_PID_FILE": str(base / "rabbit.pid"),
        # epmd runs inside the netns; keep it on the netns' loopback.
        "ERL_EPMD_ADDRESS": "127.0.0.1",
    }


def start_rabbit(say: Say) -> None:
    base = config.STATE_DIR / "rabbit"
    for sub in ("mnesia", "log"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    render("rabbitmq.conf", base / "rabbitmq.conf", **_common_values())
    (base / "enabled_plugins").write_text("[].\n")
    cookie = base / ".erlang.cookie"
    if not cookie.exists():
        cookie.write_text(os.urandom(16).hex().upper())
        cookie.chmod(0o400)
    # Our own epmd, supervised like the rest (rabbit would daemonize one otherwise).
    procs.start("epmd", ["epmd", "-address", "127.0.0.1"])
    procs.start("rabbitmq", [config.RABBIT_SERVER], env=_rabbit_env())
    waited = procs.wait_port("rabbitmq", config.RABBIT_PORT, timeout=180)
    say(f"e2e: rabbitmq up on {config.HOST_IP}:{config.RABBIT_PORT} ({waited:.0f}s)")


def stop_rabbit() -> None:
    procs.stop("rabbitmq")
    procs.stop("epmd")


# --- postgresql ----------------------------------------------------------

def _pg_dirs() -> tuple[Path, Path]:
    base = config.STATE_DIR / "pg"
    return base / "data", base / "run"


def _as_postgres(argv: list[str]) -> list[str]:
    return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", *argv]


#: Server-side TCP keepalives: a dead client's sessions (and locks) go after ~25 s.
KEEPALIVES = ("-c", "tcp_keepalives_idle=10", "-c", "tcp_keepalives_interval=5",
              "-c", "tcp_keepalives_count=3")


def start_postgres(say: Say) -> None:
    data, run = _pg_dirs()
    if not (data / "PG_VERSION").exists():
        shutil.rmtree(data, ignore_errors=True)
        data.mkdir(parents=True)
        shutil.chown(data.parent, "postgres", "postgres")
        shutil.chown(data, "postgres", "postgres")
        subprocess.run(_as_postgres([str(config.PG_BIN / "initdb"), "-D", str(data),
                                     "-U", "postgres", "--auth=trust", "-E", "UTF8"]),
                       check=True, capture_output=True, text=True)
        net = config.HOST_IP.rsplit(".", 1)[0] + ".0/24"
        with (data / "pg_hba.conf").open("a") as hba:
            hba.write(f"host all all {net} trust\n")
    run.mkdir(parents=True, exist_ok=True)
    shutil.chown(run, "postgres", "postgres")
    procs.start("postgres", _as_postgres([
        str(config.PG_BIN / "postgres"), "-D", str(data),
        "-c", f"listen_addresses={config.HOST_IP}", "-c", f"port={config.PG_PORT}",
        "-c", f"unix_socket_directories={run}", "-c", "max_connections=300",
        "-c", "fsync=off", "-c", "shared_buffers=32MB",
        # A node that dies (power off) never closes its sessions, and tooz's coordination
        # locks are advisory locks held by them: without keepalives the server would keep
        # the dead node's locks for the kernel's default 2 h 11 min. Drop it after ~25 s.
        *KEEPALIVES,
    ]))
    waited = procs.wait_port("postgres", config.PG_PORT, timeout=60)
    ensure_database("cinder")
    say(f"e2e: postgresql up on {config.HOST_IP}:{config.PG_PORT} ({waited:.0f}s)")


def ensure_database(name: str) -> bool:
    """Create database ``name`` unless it exists; True if it was created."""
    psql = ["psql", "-h", config.HOST_IP, "-p", str(config.PG_PORT), "-U", "postgres"]
    exists = procs.run([*psql, "-tAc", f"SELECT 1 FROM pg_database WHERE datname='{name}'"])
    if exists.stdout.strip() == "1":
        return False
    procs.run([*psql, "-c", f"CREATE DATABASE {name}"])
    return True


def stop_postgres() -> None:
    procs.stop("postgres", timeout=30)


# --- cinder --------------------------------------------------------------

def cinder_conf() -> Path:
    return config.STATE_DIR / "cinder-host.conf"


def _bin(name: str) -> str:
    return str(config.HOST_VENV / "bin" / name)


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def keystone_authtoken() -> str:
    """cinder-api's ``[keystone_authtoken]``: keystonemiddleware validates with cinder's user."""
    return "\n".join([
        "", "[keystone_authtoken]",
        f"www_authenticate_uri = {config.keystone_endpoint()}",
        f"auth_url = {config.keystone_endpoint()}",
        "auth_type = password",
        f"username = {config.CINDER_USER}",
        f"password = {config.SERVICE_PASSWORD}",
        f"project_name = {config.SERVICE_PROJECT}",
        "user_domain_name = Default",
        "project_domain_name = Default",
        f"region_name = {config.REGION}",
        # No memcached: keystonemiddleware's in-process token cache.
        "", "[oslo_policy]",
        "enforce_new_defaults = True",
        "enforce_scope = False",
        f"policy_file = {cinder_policy()}", "",
    ])


#: The lab's Cinder policy, over Cinder's defaults. Every backend here is OCFS2, whose
#: attached volumes stock Nova cannot resize (its libvirt gpfs volume driver): the API
#: refuses such an extend up front (else the scheduler turns it down after a 202).
CINDER_POLICY = """\
# Written by e2e/control.py: the lab's Cinder policy over Cinder's defaults.
"volume:extend_attached_volume": "!"
"""


def cinder_policy() -> Path:
    return config.STATE_DIR / "cinder-policy.yaml"


def start_cinder(say: Say, glance_endpoint: str | None = None) -> None:
    for sub in ("cinder/locks", "cinder/coordination", "logs"):
        (config.STATE_DIR / sub).mkdir(parents=True, exist_ok=True)
    paste = (config.HOST_VENV / "etc/cinder/api-paste.ini").read_text()
    if config.AUTH == "noauth":  # keystone: the stock api-paste.ini
        paste = paste.replace("cinder.api.middleware.auth:NoAuthMiddleware.factory",
                              "e2e.noauth:DefaultTokenNoAuth.factory")
    before = _read(config.STATE_DIR / "api-paste.ini") + _read(cinder_conf())
    (config.STATE_DIR / "api-paste.ini").write_text(paste)
    values = _common_values()
    values["auth_strategy"] = config.AUTH
    values["auth_section"] = keystone_authtoken() if config.AUTH == "keystone" else ""
    cinder_policy().write_text(CINDER_POLICY)
    if glance_endpoint:
        values["glance_endpoint"] = glance_endpoint
    conf = render("cinder-host.conf", cinder_conf(), **values)
    if before != paste + conf.read_text():  # e.g. E2E_AUTH changed: restart with it
        stop_cinder()
    t0 = time.monotonic()
    procs.run([_bin("cinder-manage"), "--config-file", str(conf), "db", "sync"], timeout=600)
    say(f"e2e: cinder db sync done ({time.monotonic() - t0:.0f}s)")
    args = ["--config-file", str(conf)]
    procs.start("cinder-api", [_bin("cinder-api"), *args, "--log-file",
                               str(config.STATE_DIR / "logs" / "cinder-api.log")],
                env={"PYTHONPATH": str(config.REPO_ROOT)})
    procs.start("cinder-scheduler", [_bin("cinder-scheduler"), *args, "--log-file",
                                     str(config.STATE_DIR / "logs" / "cinder-scheduler.log")])
    waited = procs.wait_port("cinder-api", config.CINDER_API_PORT, timeout=180)
    say(f"e2e: cinder-api up at {config.cinder_endpoint()} ({waited:.0f}s)")


def stop_cinder() -> None:
    for name in ("cinder-api", "cinder-scheduler"):
        procs.stop(name)


# --- glance --------------------------------------------------------------

def glance_store_dir() -> Path:
    return config.STATE_DIR / "glance" / "images"


def start_glance(say: Say) -> None:
    base = config.STATE_DIR / "glance"
    store = glance_store_dir()
    store.mkdir(parents=True, exist_ok=True)
    conf = render(
        "glance-api.conf", base / "glance-api.conf", **_common_values(),
        bind_host=config.HOST_IP, log_file=procs.log_path("glance-api"),
        glance_db=f"sqlite:///{base / 'glance.sqlite'}",
        paste_ini=config.HOST_VENV / "etc/glance/glance-api-paste.ini",
        store_dir=store)
    if not (base / "glance.sqlite").exists():
        t0 = time.monotonic()
        procs.run([_bin("glance-manage"), "--config-file", str(conf), "db_sync"], timeout=600)
        say(f"e2e: glance db sync done ({time.monotonic() - t0:.0f}s)")
    procs.start("glance-api", [_bin("python"), "-m", "e2e.glance_wsgi", config.HOST_IP,
                               str(config.GLANCE_PORT)],
                env={"OS_GLANCE_CONFIG_DIR": str(conf.parent),
                     "PYTHONPATH": str(config.REPO_ROOT)})
    waited = procs.wait_port("glance-api", config.GLANCE_PORT, timeout=180)
    say(f"e2e: glance-api up at {config.glance_endpoint()} ({waited:.0f}s)")


def stop_glance() -> None:
    procs.stop("glance-api")


def up(say: Say = print) -> None:
    config.STATE_DIR.mkdir(parents=True, exist_ok=True)
    start_postgres(say)
    start_rabbit(say)
    start_glance(say)
    start_cinder(say)
    if config.NOVA:  # needs Keystone (e2e.keystone.start) for its users and catalog
        from e2e import nova
        nova.up(say, glance_url=config.glance_endpoint())


def down() -> None:
    # Whatever E2E_NOVA says now: compute services left running would outlive the rest.
    from e2e import nova
    nova.down()
    stop_cinder()
    stop_glance()
    procs.stop("keystone")
    stop_rabbit()
    stop_postgres()
