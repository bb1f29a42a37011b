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
"""How to point the ``openstack`` and ``cinder`` CLIs at the deployment.

Both run inside the lab's netns (the only place the APIs are reachable).
With Keystone (the default) both use password auth as ``admin`` of project
``admin``: ``openstack`` reads a ``clouds.yaml``, ``cinder`` the usual
``OS_*`` variables (which is also what ``openrc`` exports). With
``E2E_AUTH=noauth``, ``openstack`` uses auth type ``none`` with per-service
endpoint overrides and ``cinder`` cinderclient's ``noauth`` plugin.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from e2e import config
from lab import config as lab_config

VOLUME_API_VERSION = "3.70"


def clouds_yaml(glance_endpoint: str) -> str:
    if config.AUTH == "keystone":
        return f"""clouds:
  e2e:
    auth:
      auth_url: {config.keystone_endpoint()}
      username: {config.ADMIN_USER}
      password: {config.ADMIN_PASSWORD}
      project_name: {config.ADMIN_PROJECT}
      user_domain_name: Default
      project_domain_name: Default
    region_name: {config.REGION}
    identity_api_version: "3"
    volume_api_version: "3"
"""
    return f"""clouds:
  e2e:
    auth_type: none
    auth:
      endpoint: {config.cinder_endpoint()}
    volume_api_version: "3"
    block_storage_endpoint_override: {config.cinder_endpoint()}
    volumev3_endpoint_override: {config.cinder_endpoint()}
    image_endpoint_override: {glance_endpoint}
"""


def clouds_path() -> Path:
    return config.STATE_DIR / "clouds.yaml"


def write(glance_endpoint: str) -> Path:
    path = clouds_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(clouds_yaml(glance_endpoint))
    (config.STATE_DIR / "openrc").write_text(openrc())
    return path


def env(command: str = "openstack") -> dict[str, str]:
    """Environment for ``command`` ("openstack" or "cinder")."""
    base = {"PATH": f"{config.HOST_VENV}/bin:{os.environ.get('PATH', '/usr/bin:/bin')}"}
    if config.AUTH == "keystone":
        if command == "cinder":
            return base | password_env()
        return base | {"OS_CLIENT_CONFIG_FILE": str(clouds_path()), "OS_CLOUD": "e2e",
                       "OS_VOLUME_API_VERSION": VOLUME_API_VERSION}
    if command == "cinder":
        return base | {
            "OS_AUTH_TYPE": "noauth", "OS_USER_ID": config.USER_ID,
            "OS_PROJECT_ID": config.PROJECT_ID, "CINDER_ENDPOINT": config.cinder_endpoint(),
            "OS_VOLUME_API_VERSION": VOLUME_API_VERSION,
        }
    return base | {"OS_CLIENT_CONFIG_FILE": str(clouds_path()), "OS_CLOUD": "e2e",
                   "OS_VOLUME_API_VERSION": VOLUME_API_VERSION}


def password_env() -> dict[str, str]:
    """The ``OS_*`` variables of password auth as the deployment's admin."""
    return {
        "OS_AUTH_URL": config.keystone_endpoint(), "OS_IDENTITY_API_VERSION": "3",
        "OS_USERNAME": config.ADMIN_USER, "OS_PASSWORD": config.ADMIN_PASSWORD,
        "OS_PROJECT_NAME": config.ADMIN_PROJECT, "OS_USER_DOMAIN_NAME": "Default",
        "OS_PROJECT_DOMAIN_NAME": "Default", "OS_REGION_NAME": config.REGION,
        "OS_VOLUME_API_VERSION": VOLUME_API_VERSION,
    }


def openrc() -> str:
    wrapper = config.REPO_ROOT / "e2e" / "os"
    variables = (password_env() if config.AUTH == "keystone"
                 else {k: v for k, v in env("openstack").items() if k != "PATH"})
    return "\n".join([
        "# Source me, then run the CLIs through the netns wrapper:",
        f"#   {wrapper} openstack volume list",
        f"#   {wrapper} cinder get-pools --detail",
        *(f"export {k}={v}" for k, v in variables.items()),
        f"export E2E_NETNS={config.NETNS}",
        *([f"export LAB_NAME={lab_config.LAB_NAME}"] if lab_config.LAB_NAME else []),
        "",
    ])


def cli(argv: Sequence[str], *, timeout: float = 300.0, check: bool = True,
        input: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``openstack ...`` or ``cinder ...`` in the netns with the right environment."""
    full_env = dict(os.environ)
    for key in [k for k in full_env if k.startswith(("OS_", "CINDER_"))]:
        del full_env[key]
    full_env.update(env(argv[0]))
    cmd = ["ip", "netns", "exec", config.NETNS, *argv]
    proc = subprocess.run(cmd, env=full_env, capture_output=True, text=True, timeout=timeout,
                          input=input, check=False)
    if check and proc.returncode:
        raise CLIError(argv, proc)
    return proc


def cli_json(argv: Sequence[str], **kw: Any) -> Any:
    """``openstack ... -f json`` parsed."""
    return json.loads(cli([*argv, "-f", "json"], **kw).stdout or "null")


class CLIError(RuntimeError):
    def __init__(self, argv: Sequence[str], proc: subprocess.CompletedProcess[str]) -> None:
        super().__init__(f"{' '.join(argv)} exited {proc.returncode}:\n{proc.stderr.strip()}"
                         f"\n{proc.stdout.strip()}")
        self.proc = proc
