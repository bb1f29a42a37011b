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
"""Serve keystone's WSGI application (the public one; v3 has no separate admin API).

Usage: ``python -m e2e.keystone_wsgi HOST PORT`` with
``OS_KEYSTONE_CONFIG_FILES`` naming ``keystone.conf``. Keystone's
application parses ``sys.argv`` with oslo.config when it is created, so the
server's own arguments are taken off first. eventlet's WSGI server, as for
glance (:mod:`e2e.glance_wsgi`): already in the venv, and enough for one lab.
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    host, port = argv[0], int(argv[1])
    sys.argv = sys.argv[:1]
    import eventlet
    import eventlet.wsgi
    from keystone.server.wsgi import initialize_public_application

    application = initialize_public_application()
    sock = eventlet.listen((host, port))
    eventlet.wsgi.server(sock, application, max_size=64, log_output=False)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
