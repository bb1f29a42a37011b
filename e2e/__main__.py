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
"""``python -m e2e up|down|env|status|cli``: the e2e deployment on the lab.

* ``up``     install what is missing, bring up the lab and a real Cinder on it,
             print how to use it (``make demo``);
* ``down``   stop the node services, the control plane and the lab (``make demo-down``);
             ``--keep-lab`` leaves the lab running;
* ``env``    print the environment for the ``openstack`` CLI (an openrc);
* ``status`` the service list;
* ``cli``    run ``openstack ...``/``cinder ...`` in the netns (what ``e2e/os`` calls);
* ``nova up|down``  just the compute control plane (:mod:`e2e.nova`), against the
             running deployment (``E2E_NOVA=1`` brings it up with ``up`` as well).
"""

from __future__ import annotations

import argparse
import os
import sys

from e2e import clients, config, deploy


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m e2e", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="bring everything up")
    down = sub.add_parser("down", help="stop everything")
    down.add_argument("--keep-lab", action="store_true")
    sub.add_parser("env", help="print an openrc")
    sub.add_parser("status", help="openstack volume service list")
    cli = sub.add_parser("cli", help="run a CLI in the netns")
    cli.add_argument("argv", nargs=argparse.REMAINDER)
    nova_p = sub.add_parser("nova", help="the compute control plane alone (E2E_NOVA)")
    nova_p.add_argument("action", choices=("up", "down"))
    args = p.parse_args(argv)
    if args.command == "up":
        deploy.up()
        print(deploy.howto())
    elif args.command == "down":
        deploy.down(lab_too=not args.keep_lab)
    elif args.command == "env":
        print(clients.openrc(), end="")
    elif args.command == "status":
        proc = clients.cli(["openstack", "volume", "service", "list"], check=False)
        print(proc.stdout, end="")
        print(proc.stderr, end="", file=sys.stderr)
        return proc.returncode
    elif args.command == "nova":
        from e2e import nova
        if args.action == "up":
            nova.up(say=lambda msg: print(msg, file=sys.stderr, flush=True))
        else:
            nova.down()
    elif args.command == "cli":
        if not args.argv or args.argv[0] not in ("openstack", "cinder"):
            p.error("cli: the command must be openstack or cinder")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OS_", "CINDER_"))}
        env.update(clients.env(args.argv[0]))
        os.execvpe("ip", ["ip", "netns", "exec", config.NETNS, *args.argv], env)
    return 0


if __name__ == "__main__":
    sys.exit(main())
