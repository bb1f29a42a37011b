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
"""cinder-api noauth that also serves the ``openstack`` CLI.

Cinder's ``NoAuthMiddleware`` answers any request without ``X-Auth-Token``
with an old-style 204 "here is your token" reply, and takes a token
``user:project`` apart. keystoneauth's version discovery sends no token (so
the ``openstack`` CLI fails with "Unable to find a version discovery
document"), and its ``none`` auth sends the token ``notused`` (so volumes
made with ``openstack`` would land in project "notused" and be invisible to
``cinder``, which sends ``admin:admin``). This filter gives every request
that lacks a ``user:project`` token the one noauth hands out, ``admin:admin``,
before cinder's own noauth runs. Only the e2e deployment's api-paste.ini
uses it.
"""

from __future__ import annotations

from cinder.api.middleware import auth

DEFAULT_TOKEN = "admin:admin"


class DefaultTokenNoAuth(auth.NoAuthMiddleware):
    def __call__(self, environ, start_response):  # type: ignore[no-untyped-def]
        if ":" not in environ.get("HTTP_X_AUTH_TOKEN", ""):
            environ["HTTP_X_AUTH_TOKEN"] = DEFAULT_TOKEN
        return super().__call__(environ, start_response)
