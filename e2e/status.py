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
"""Cheap status reads for the tests' polling loops, in-process through openstacksdk.

The tests act through the real ``openstack``/``cinder`` CLIs; only *waiting*
goes through here. One ``openstack ... show`` costs about 3.5 s and 1.8 s of
host CPU (the client's imports plus a Keystone token), which a polling loop
spends every few seconds while the emulated nodes need every cycle of the
host's 2 cores. Here one connection, one token and about 20 ms per read.

The APIs are only reachable inside the lab's netns, so every call runs on one
worker thread that has joined that netns (``setns(2)`` on a thread changes
only that thread; the sockets it opens live in the netns).
"""

from __future__ import annotations

import concurrent.futures
import ctypes
import os
import threading
from typing import Any

from e2e import clients, config

CLONE_NEWNET = 0x40000000
#: Seconds one request may take before it counts as "no answer yet".
REQUEST_TIMEOUT = 60

_lock = threading.Lock()
_pool: concurrent.futures.ThreadPoolExecutor | None = None
_conn: Any = None


class Gone(LookupError):
    """The resource does not exist (the API answered 404)."""


class NoAnswer(RuntimeError):
    """The API did not answer in time, or answered with a server error: ask again."""


def _join_netns() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(f"/run/netns/{config.NETNS}", os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns into netns {config.NETNS}: {os.strerror(err)}")
    finally:
        os.close(fd)


def _connect() -> Any:
    from openstack import config as os_config  # one import per test process, not per poll
    from openstack import connection

    loader = os_config.OpenStackConfig(config_files=[str(clients.clouds_path())],
                                       load_envvars=False)
    # A bounded wait per request: an API busy with a large upload (glance-api under
    # emulation) may not answer for a while; the poll then asks again.
    return connection.Connection(config=loader.get_one(cloud="e2e", api_timeout=REQUEST_TIMEOUT))


def _run(fn: Any) -> Any:
    global _pool
    with _lock:
        if _pool is None:
            _pool = concurrent.futures.ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="e2e-status", initializer=_join_netns)
    return _pool.submit(fn).result(timeout=3 * REQUEST_TIMEOUT)


def _read(kind: str, ident: str) -> dict[str, Any]:
    global _conn
    from openstack import exceptions

    try:
        if _conn is None:
            _conn = _connect()
        getter = {
            "volume": _conn.block_storage.get_volume,
            "volume snapshot": _conn.block_storage.get_snapshot,
            "volume backup": _conn.block_storage.get_backup,
            "image": _conn.image.get_image,
        }[kind]
        return getter(ident).to_dict(computed=False)
    except exceptions.NotFoundException as exc:
        raise Gone(f"{kind} {ident}") from exc
    except Exception as exc:  # noqa: BLE001 - also keystoneauth's timeouts and resets
        status = getattr(exc, "status_code", None)
        if status is not None and status < 500:
            raise  # a 4xx other than 404 is a real answer, and a test's bug
        raise NoAnswer(f"{kind} {ident}: {exc}") from exc


#: What the polls read here. Images stay with ``openstack image show``: glance-api on an
#: emulated node answers nothing else while it receives a large upload (over 120 s
#: seen), and the CLI's 300 s per call has always outlasted that.
KINDS = ("volume", "volume snapshot", "volume backup")


def read(kind: str, ident: str) -> dict[str, Any]:
    """The API's view of ``kind`` ``ident`` (``status`` etc.); :class:`Gone` if 404,
    :class:`NoAnswer` if the API timed out or failed (5xx, connection)."""
    try:
        return _run(lambda: _read(kind, ident))
    except concurrent.futures.TimeoutError as exc:
        raise NoAnswer(f"{kind} {ident}: no answer in {3 * REQUEST_TIMEOUT} s") from exc
