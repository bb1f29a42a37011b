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
"""pytest fixtures for tests that need the deployment (loaded by tests/conftest.py).

``deployment`` (session) brings the deployment up with ``e2e.deploy.up()``
(reusing a running lab and services) and leaves it running: ``make
demo-down`` stops it. ``E2E_DOWN=1`` tears it down at the end instead. The
scenario (tests/e2e) and the fault suite (tests/faults) both use it, so
``make test`` boots one deployment for both.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

from e2e import deploy
from lab.lab import Lab

#: Seconds ``deploy.up()`` took in this session (None until the fixture ran).
DEPLOY_SECONDS: float | None = None


@pytest.fixture(scope="session")
def deployment() -> Iterator[Lab]:
    global DEPLOY_SECONDS
    if os.geteuid() != 0:
        pytest.skip("the e2e deployment needs root (netns, qemu)")
    t0 = time.monotonic()
    lab = deploy.up()
    DEPLOY_SECONDS = time.monotonic() - t0
    yield lab
    if os.environ.get("E2E_DOWN") == "1":
        deploy.down()
