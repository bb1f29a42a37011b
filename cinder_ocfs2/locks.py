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
"""Is Cinder's coordination backend (``[coordination] backend_url``) safe here?

Every data change of this driver holds ``coordination.synchronized`` on the
volume id, so the lock must be held across every cinder-volume that serves
the same filesystems. Two backends are not:

* tooz's ``file://`` driver takes POSIX ``fcntl`` locks, and o2cb keeps those
  node-local even on OCFS2 (only ``flock`` is clustered): two services on two
  nodes would both get the lock.
* tooz's PostgreSQL driver keys each lock by two bytes of its name's MD5, so
  there are 65,536 locks in all. Unrelated volumes' locks collide and wait on
  each other, and an operation that holds two names whose keys collide (a
  clone holds its source's delete lock, then its own and its source's lock)
  waits for itself, on another connection, forever.
"""

from __future__ import annotations

from typing import NamedTuple

SAFE = "etcd3+http://HOST:2379 (tooz's etcd3gw driver), or redis:// or mysql://"


class Problem(NamedTuple):
    fatal: bool  # refuse to start
    message: str


def backend_url_problem(url: str | None, clustered: bool, shared_host: bool) -> Problem | None:
    """What is wrong with ``url`` for services that are ``clustered`` (Cinder's
    ``cluster`` option) or share a ``backend_host``; None when nothing is."""
    scheme = (url or "").split(":", 1)[0].split("+", 1)[0].lower()
    if scheme == "file" and (clustered or shared_host):
        how = "cluster" if clustered else "backend_host"
        return Problem(clustered, (
            f"[coordination] backend_url={url} with {how} set: tooz's file driver takes "
            "fcntl locks, which o2cb keeps node-local even on OCFS2, so cinder-volume "
            "services on two nodes would change one volume at once. Set backend_url to a "
            f"backend every node shares: {SAFE}"))
    if scheme in ("postgresql", "postgres"):
        return Problem(False, (
            f"[coordination] backend_url={url}: tooz's PostgreSQL driver has only 65,536 "
            "lock keys (two bytes of the name's MD5): unrelated volumes' locks wait on each "
            "other, and a clone whose lock names collide waits on itself until an operator "
            f"restarts the service. Prefer {SAFE}"))
    return None
