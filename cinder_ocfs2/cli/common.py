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
"""Helpers shared by the verbs: exit codes, errors, peers, confirmation, output."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from collections.abc import Sequence
from typing import Any

from cinder_ocfs2 import executor

#: Exit codes, documented in ``cinder-ocfs2 --help``.
EXIT_OK = 0
EXIT_ERROR = 1       # an unexpected error (the --> line says which)
EXIT_USAGE = 2       # bad arguments (argparse)
EXIT_PROBLEMS = 3    # status/doctor found problems
EXIT_MISMATCH = 4    # verify found corrupted or missing data
EXIT_REFUSED = 5     # a safety check or the operator said no; nothing was changed

EXIT_CODES_HELP = """\
exit codes:
  0  success, nothing wrong found
  1  error (printed as '--> ErrorName: message'; CINDER_OCFS2_DEBUG=1 shows the traceback)
  2  bad arguments
  3  status/doctor found problems (each printed with its fix)
  4  verify found mismatching or missing data
  5  refused: a preflight check failed or confirmation was not given; nothing was changed
"""

DEFAULT_REMOTE_CLI = "cinder-ocfs2"


class CliError(Exception):
    """An error the CLI reports as ``--> Name: message`` with ``exit_code``."""

    exit_code = EXIT_ERROR


class Refused(CliError):
    """A safety check failed or the operator declined; nothing was changed."""

    exit_code = EXIT_REFUSED


def peer(text: str) -> tuple[str, tuple[str, ...]]:
    """argparse type for ``--peer NAME=PREFIX`` (``node2='ssh root@node2'``).

    An empty prefix (``node1=``) means "this machine".
    """
    name, sep, prefix = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(
            f"expected NAME=COMMAND-PREFIX (e.g. node2='ssh root@node2'), got {text!r}")
    return name.strip(), tuple(shlex.split(prefix))


def add_peer_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--peer", action="append", type=peer, default=[], metavar="NAME=PREFIX",
        help="another cluster node and the command prefix that runs commands on it, "
             "e.g. --peer node2='ssh root@node2' (repeat per node; NAME= with an empty "
             "prefix is this machine; behind ssh/rsh the remote command's arguments are "
             "shell-quoted)")
    parser.add_argument(
        "--remote-cli", default=os.environ.get("CINDER_OCFS2_REMOTE_CLI", DEFAULT_REMOTE_CLI),
        help="how to run cinder-ocfs2 behind a peer prefix (default: %(default)s; env "
             "CINDER_OCFS2_REMOTE_CLI)")


def remote_cli(args: argparse.Namespace) -> tuple[str, ...]:
    return tuple(shlex.split(args.remote_cli))


through_remote_shell = executor.through_remote_shell


def remote_argv(prefix: Sequence[str], cli: Sequence[str], argv: Sequence[str]) -> list[str]:
    """The argv that runs ``CLI ARGV`` behind ``prefix`` (see :func:`executor.behind`)."""
    return executor.behind(prefix, [*cli, *argv])


def run_remote_json(prefix: Sequence[str], cli: Sequence[str], argv: Sequence[str],
                    timeout: float = 180.0) -> Any:
    """Run ``cinder-ocfs2 ARGV`` behind ``prefix`` and decode its JSON stdout."""
    command = remote_argv(prefix, cli, argv)
    result = executor.run(command, timeout=timeout, check=False)
    try:
        return json.loads(result.stdout)
    except ValueError:
        raise CliError(f"{shlex.join(command)} did not print JSON "
                       f"(exit {result.returncode}): {result.stderr.strip()[-500:]}") from None


def confirm(question: str, yes: bool) -> None:
    """Ask ``question``; raise :class:`Refused` unless the answer is yes or ``yes``."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise Refused(f"{question} -- not confirmed: pass --yes to run non-interactively")
    answer = input(f"{question} [y/N] ").strip().lower()
    if answer not in ("y", "yes"):
        raise Refused("not confirmed; nothing was changed")


def say(message: str) -> None:
    """Progress for long operations, on stderr so --json stays clean."""
    print(f"--> {message}", file=sys.stderr, flush=True)


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, sort_keys=True, default=str)
    sys.stdout.write("\n")


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in r]
                                           for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
             for r in cells]
    return "\n".join(lines)


def human_bytes(n: int | None) -> str:
    if n is None:
        return "?"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f}{unit}" if unit == "B" else f"{value:.1f}{unit}"
        value /= 1024
    return f"{value:.1f}TiB"
