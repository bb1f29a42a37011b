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
"""Keystone for the deployment: the identity service cinder-api and tempest need.

Keystone 30 from the host venv, served by :mod:`e2e.keystone_wsgi` inside the
lab's netns at ``http://HOST_IP:5000/v3`` and supervised like the rest
(:mod:`e2e.procs`). Its database is ``keystone`` in the deployment's
PostgreSQL; fernet and credential keys are under ``STATE_DIR/keystone``.
``keystone-manage bootstrap`` makes user ``admin`` (project ``admin``, role
``admin``), region ``RegionOne`` and the identity endpoints; ``register``
then adds the catalog (``block-storage``/``volumev3`` for cinder-api,
``image`` for glance), project ``service`` and cinder's service user (with
``E2E_NOVA=1`` also ``compute``, ``placement``, ``network`` and the users
``nova``, ``placement``, ``neutron``, roles admin and service; see
:mod:`e2e.nova`). The
ids of what it made are kept in ``STATE_DIR/keystone/ids.json``: the
cinder-volume nodes take the service project and user as cinder's internal
tenant (the image-volume cache).

``python -m e2e.keystone register GLANCE_URL`` is that last step; it runs
inside the netns (the only place Keystone is reachable) and prints the ids.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from e2e import config, procs

Say = Callable[[str], None]

NAME = "keystone"
INTERFACES = ("public", "internal", "admin")


def base_dir() -> Path:
    return config.STATE_DIR / "keystone"


def conf_path() -> Path:
    return base_dir() / "keystone.conf"


def ids_path() -> Path:
    return base_dir() / "ids.json"


def ids() -> dict[str, str]:
    """What ``register`` made: admin/service project and user ids (empty before)."""
    try:
        return json.loads(ids_path().read_text())
    except (OSError, ValueError):
        return {}


def cinder_url() -> str:
    return f"{config.cinder_endpoint()}/%(project_id)s"


def _manage(*args: str, timeout: float = 300.0) -> None:
    keystone_manage = str(config.HOST_VENV / "bin" / "keystone-manage")
    procs.run([keystone_manage, "--config-file", str(conf_path()), *args], timeout=timeout)


def start(say: Say, glance_endpoint: str) -> dict[str, str]:
    """Keystone up (database, keys, bootstrap, server, catalog); return :func:`ids`."""
    from e2e import control  # control imports nothing of ours but config/procs

    base = base_dir()
    control.render("keystone.conf", conf_path(), state_dir=config.STATE_DIR,
                   db_url=config.db_url(NAME), log_file=procs.log_path(NAME))
    control.ensure_database(NAME)
    marker = base / "bootstrapped"
    if not marker.exists():
        t0 = time.monotonic()
        _manage("db_sync", timeout=600)
        for kind in ("fernet", "credential"):
            if not (base / f"{kind}-keys" / "0").exists():
                _manage(f"{kind}_setup", "--keystone-user", "root", "--keystone-group", "root")
        url = config.keystone_endpoint()
        _manage("bootstrap", "--bootstrap-password", config.ADMIN_PASSWORD,
                "--bootstrap-username", config.ADMIN_USER,
                "--bootstrap-project-name", config.ADMIN_PROJECT,
                "--bootstrap-role-name", "admin", "--bootstrap-service-name", NAME,
                "--bootstrap-region-id", config.REGION, "--bootstrap-admin-url", url,
                "--bootstrap-public-url", url, "--bootstrap-internal-url", url)
        marker.write_text(f"{time.strftime('%F %T')}\n")
        say(f"e2e: keystone db sync and bootstrap done ({time.monotonic() - t0:.0f}s)")
    procs.start(NAME, [str(config.HOST_VENV / "bin" / "python"), "-m", "e2e.keystone_wsgi",
                       config.HOST_IP, str(config.KEYSTONE_PORT)],
                env={"OS_KEYSTONE_CONFIG_FILES": str(conf_path()),
                     "PYTHONPATH": str(config.REPO_ROOT)})
    waited = procs.wait_port(NAME, config.KEYSTONE_PORT, timeout=180)
    say(f"e2e: keystone up at {config.keystone_endpoint()} ({waited:.0f}s)")
    proc = procs.run([str(config.HOST_VENV / "bin" / "python"), "-m", "e2e.keystone",
                      "register", glance_endpoint],
                     env={"PYTHONPATH": str(config.REPO_ROOT)}, timeout=300)
    made = json.loads(proc.stdout.strip().splitlines()[-1])
    ids_path().write_text(json.dumps(made, indent=1) + "\n")
    return made


def stop() -> None:
    procs.stop(NAME)


# --- inside the netns ------------------------------------------------------

def _admin_client() -> Any:
    from keystoneauth1 import session
    from keystoneauth1.identity import v3
    from keystoneclient.v3 import client

    auth = v3.Password(auth_url=config.keystone_endpoint(), username=config.ADMIN_USER,
                       password=config.ADMIN_PASSWORD, project_name=config.ADMIN_PROJECT,
                       user_domain_id="default", project_domain_id="default")
    return client.Client(session=session.Session(auth=auth),
                         endpoint_override=config.keystone_endpoint())


def _one(items: list[Any], **match: str) -> Any | None:
    for item in items:
        if all(getattr(item, k, None) == v for k, v in match.items()):
            return item
    return None


def register(glance_endpoint: str) -> dict[str, str]:
    """Catalog, service project and the service users, made or brought up to date."""
    ks = _admin_client()
    catalog = [("cinder", "block-storage", cinder_url()),
               ("cinderv3", "volumev3", cinder_url()),
               ("glance", "image", glance_endpoint)]
    users = [config.CINDER_USER]
    from e2e import nova
    if config.NOVA:  # the compute control plane's
        catalog += nova.catalog()
        users += nova.service_users()
    else:
        # Left by an earlier E2E_NOVA=1 run: clients (openstack volume list, cinder-api's
        # attachment delete) call a compute endpoint in the catalog, and it is not there.
        stale = {kind for _, kind, _ in nova.catalog()}
        for service in ks.services.list():
            if service.type in stale:
                ks.services.delete(service)
    endpoints = ks.endpoints.list()
    for name, kind, url in catalog:
        service = _one(ks.services.list(), type=kind) or ks.services.create(name=name, type=kind)
        for interface in INTERFACES:
            have = _one(endpoints, service_id=service.id, interface=interface)
            if have is None:
                ks.endpoints.create(service=service, url=url, interface=interface,
                                    region=config.REGION)
            elif have.url != url:
                ks.endpoints.update(have, url=url)
    project = _one(ks.projects.list(), name=config.SERVICE_PROJECT) or ks.projects.create(
        name=config.SERVICE_PROJECT, domain="default", description="service users")
    admin_role = _one(ks.roles.list(), name="admin")
    # Nova sends a service token with its volume and port calls: role "service" too.
    service_role = None
    if config.NOVA:
        service_role = _one(ks.roles.list(), name="service") or ks.roles.create(name="service")
    existing = ks.users.list()
    made = {}
    for name in users:
        made[name] = _one(existing, name=name) or ks.users.create(
            name=name, domain="default", password=config.SERVICE_PASSWORD,
            default_project=project)
        ks.roles.grant(admin_role, user=made[name], project=project)
        if service_role is not None:
            ks.roles.grant(service_role, user=made[name], project=project)
    user = made[config.CINDER_USER]
    admin = _one(ks.users.list(), name=config.ADMIN_USER)
    admin_project = _one(ks.projects.list(), name=config.ADMIN_PROJECT)
    return {"admin_user_id": admin.id, "admin_project_id": admin_project.id,
            "service_project_id": project.id, "cinder_user_id": user.id}


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] != "register":
        print("usage: python -m e2e.keystone register GLANCE_URL", file=sys.stderr)
        return 2
    print(json.dumps(register(argv[1])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
