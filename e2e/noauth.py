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
"""cinder-api noauth that also accepts token-less requests (version discovery).

Cinder's ``NoAuthMiddleware`` answers any request without ``X-Auth-Token``
with an old-style 204 "here is your token" reply. keystoneauth's version
discovery sends no token, so the ``openstack`` CLI fails with "Unable to
find a version discovery document". This filter supplies the token noauth
would hand out (``admin:admin``) before cinder's own noauth runs. It is
wired in only by the e2e deployment's api-paste.ini.
"""

from __future__ import annotations

from cinder.api.middleware import auth

DEFAULT_TOKEN = "admin:admin"


class DefaultTokenNoAuth(auth.NoAuthMiddleware):
    def __call__(self, environ, start_response):  # type: ignore[no-untyped-def]
        environ.setdefault("HTTP_X_AUTH_TOKEN", DEFAULT_TOKEN)
        return super().__call__(environ, start_response)
