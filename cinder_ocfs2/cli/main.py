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
"""``cinder-ocfs2``: the operator CLI for OCFS2 clusters behind Cinder.

One module per verb; :data:`VERBS` maps each subcommand to its module, which
provides ``add_parser(subparsers)`` and a handler set as ``func``.  A single
top-level handler turns any error into ``--> ErrorName: message`` and an
exit code (``CINDER_OCFS2_DEBUG=1`` re-raises instead, with the traceback).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from cinder_ocfs2 import __version__
from cinder_ocfs2.cli import common, disk, doctor, node, status, verify

#: subcommand -> module; order is the order of ``--help``.
VERBS = {
    "status": status,
    "doctor": doctor,
    "node": node,
    "disk": disk,
    "verify": verify,
}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="cinder-ocfs2",
        description="Operate the OCFS2 shared-disk cluster behind the cinder-ocfs2 driver: "
                    "cluster status, diagnosis, o2cb node membership, disk onboarding and "
                    "cross-node data verification. Run as root on a cluster node.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=common.EXIT_CODES_HELP + "\nRun `cinder-ocfs2 VERB --help` for each verb.")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="log every external command (to stderr)")
    sub = p.add_subparsers(dest="verb", required=True, metavar="VERB")
    for module in VERBS.values():
        module.add_parser(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print("--> Interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if os.environ.get("CINDER_OCFS2_DEBUG") == "1":
            raise
        print(f"--> {type(exc).__name__}: {exc}", file=sys.stderr)
        return getattr(exc, "exit_code", common.EXIT_ERROR)


if __name__ == "__main__":
    sys.exit(main())
