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
"""Names, addresses and paths of the e2e deployment. One place to change them.

The deployment lives in the lab's network namespace (``lab.config.NETNS``):
the control plane listens on the host side's bridge address, the lab nodes
reach it there, and nothing is routed out. ``E2E_NETNS``/``E2E_HOST_IP``/
``E2E_STATE_DIR`` override the defaults (a throwaway netns for development).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from lab import config as lab_config

# cinder-volume (one process per backend), cinder-backup and glance-api need
# more than the lab's default node memory (applies to labs that e2e boots).
NODE_MEMORY_MB = int(os.environ.get("E2E_NODE_MEMORY_MB", "2560"))

NETNS = os.environ.get("E2E_NETNS", lab_config.NETNS)
HOST_IP = os.environ.get("E2E_HOST_IP", lab_config.HOST_IP)
STATE_DIR = Path(os.environ.get("E2E_STATE_DIR", str(lab_config.STATE_DIR / "e2e")))
TEMPLATES = Path(__file__).resolve().parent / "templates"
REPO_ROOT = lab_config.REPO_ROOT

# Host side: the venv that runs the control plane and the clients.
HOST_VENV = Path(os.environ.get("E2E_HOST_VENV", sys.prefix))
PG_BIN = Path(os.environ.get("E2E_PG_BIN", "/usr/lib/postgresql/15/bin"))
RABBIT_SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"

RABBIT_PORT = 5672
RABBIT_DIST_PORT = 25672
PG_PORT = 5432
CINDER_API_PORT = 8776
GLANCE_PORT = 9292
KEYSTONE_PORT = 5000
# The compute control plane (E2E_NOVA=1, :mod:`e2e.nova`).
NOVA_API_PORT = 8774
PLACEMENT_PORT = 8778
NEUTRON_PORT = 9696

# "keystone": Keystone on the host side, cinder-api with ``auth_strategy =
# keystone`` and the CLIs with password auth (what tempest needs); "noauth":
# no Keystone, cinder's noauth (every request is user admin of project admin).
AUTH = os.environ.get("E2E_AUTH", "keystone")
REGION = "RegionOne"
# Lab-only credentials: Keystone listens inside the lab's netns and nowhere else.
ADMIN_USER = "admin"
ADMIN_PROJECT = "admin"
ADMIN_PASSWORD = os.environ.get("E2E_ADMIN_PASSWORD", "e2e-admin-secret")
SERVICE_PROJECT = "service"
# cinder's service user (keystonemiddleware validates tokens with it; its
# project and id are the cinder internal tenant of the image-volume cache).
CINDER_USER = "cinder"
SERVICE_PASSWORD = os.environ.get("E2E_SERVICE_PASSWORD", "e2e-service-secret")

# noauth: cinder's NoAuthMiddleware maps a request without a token to
# user "admin" of project "admin", with admin rights.
PROJECT_ID = "admin"
USER_ID = "admin"

# Nodes.
NODE_VENV = lab_config.GUEST_VENV
NODE_SRC = lab_config.GUEST_SRC
NODE_CONF_DIR = "/etc/cinder"
MOUNT_ROOT = lab_config.MOUNT_ROOT
CINDER_CLUSTER = "ocfs2-aa"
# "cluster": Cinder active-active (same ``cluster`` on every node, tooz locks on
# OCFS2); "backend_host": every node reports as the same host (the operators'
# ``sharehost``), the pre-active-active way.
HA_MODE = os.environ.get("E2E_HA_MODE", "cluster")
# "node": glance-api on node1 with its file store on OCFS2 (needs glance in the
# node image); "host": on the host side, file store on a host directory.
GLANCE_PLACEMENT = os.environ.get("E2E_GLANCE", "node")
BACKENDS = ("ocfs2", "ocfs2b")
# The user cinder-volume and cinder-backup run as on the nodes, as distro packages
# run them: its uid and gid are the same on every node (the shared filesystems carry
# numbers), it owns the pool roots, and it is in group libvirt-qemu (a volume attached
# to a server is libvirt-qemu's, mode 0660). "root" runs them as root.
CINDER_USER = os.environ.get("E2E_CINDER_USER", "cinder")
CINDER_UID = 950  # Debian allocates system users from 100 up; 950 is free on the nodes
# "1" (the default): the compute control plane too (placement,
# nova-api/conductor/scheduler, neutron-server; :mod:`e2e.nova`), from its own
# venv, and libvirtd plus nova-compute on the nodes (:mod:`e2e.compute`; the
# lab's compute image, LAB_COMPUTE), the tiny guest image and flavor ``tiny``.
# "0": Cinder, Glance and Keystone only (3 minutes less to boot, no VMs).
NOVA = os.environ.get("E2E_NOVA", "1") == "1"
NOVA_VENV = Path(os.environ.get("E2E_NOVA_VENV", str(STATE_DIR.parent / "nova-venv")))
# nova-compute's venv in the compute image (lab/image.py).
NODE_NOVA_VENV = lab_config.GUEST_NOVA_VENV
# Their Keystone users, in project SERVICE_PROJECT with role admin (SERVICE_PASSWORD).
NOVA_USER = "nova"
PLACEMENT_USER = "placement"
NEUTRON_USER = "neutron"
# Filesystem labels: the first backend's pools are every OCFS2 fs under
# MOUNT_ROOT except the second backend's; ocfs2b owns exactly one label.
PRIMARY_LABEL = os.environ.get("E2E_PRIMARY_LABEL", lab_config.DEFAULT_LABEL)
SECOND_LABEL = os.environ.get("E2E_SECOND_LABEL", "lab1")
BACKEND_B_LABEL = os.environ.get("E2E_BACKEND_B_LABEL", "labb")


def transport_url() -> str:
    return f"rabbit://guest:guest@{HOST_IP}:{RABBIT_PORT}/"


def db_url(name: str = "cinder") -> str:
    return f"postgresql+psycopg2://postgres@{HOST_IP}:{PG_PORT}/{name}"


def coordination_url() -> str:
    """tooz's PostgreSQL driver: advisory locks, cluster-wide for every node.

    Not tooz's file driver on OCFS2: it takes fcntl() (POSIX) locks, and with
    the o2cb stack OCFS2 keeps those node-local (only flock() is clustered).
    This driver has only 65,536 lock keys (the driver warns at setup, see
    cinder_ocfs2/locks.py); etcd would be the production choice.
    """
    return f"postgresql://postgres@{HOST_IP}:{PG_PORT}/cinder"


def cinder_endpoint() -> str:
    return f"http://{HOST_IP}:{CINDER_API_PORT}/v3"


def keystone_endpoint() -> str:
    return f"http://{HOST_IP}:{KEYSTONE_PORT}/v3"


def glance_endpoint() -> str:
    return f"http://{HOST_IP}:{GLANCE_PORT}"


def nova_endpoint() -> str:
    return f"http://{HOST_IP}:{NOVA_API_PORT}/v2.1"


def placement_endpoint() -> str:
    return f"http://{HOST_IP}:{PLACEMENT_PORT}"


def neutron_endpoint() -> str:
    return f"http://{HOST_IP}:{NEUTRON_PORT}"
