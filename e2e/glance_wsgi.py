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
"""Serve glance-api's WSGI application (Glance no longer runs standalone).

Usage: ``python -m e2e.glance_wsgi HOST PORT`` with ``OS_GLANCE_CONFIG_DIR``
pointing at the directory holding ``glance-api.conf``. eventlet's WSGI
server is used because it is already in the venv and, unlike wsgiref, it
accepts the chunked request bodies that glanceclient sends on upload.
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    host, port = argv[0], int(argv[1])
    import eventlet
    import eventlet.wsgi
    from glance.wsgi.api import application

    sock = eventlet.listen((host, port))
    eventlet.wsgi.server(sock, application, max_size=64, log_output=False)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
