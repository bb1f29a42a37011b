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
"""The one place where cinder-ocfs2 runs external commands.

Every command goes through :func:`run`: it logs the argv, enforces a timeout,
always returns decoded text, and raises :class:`CommandError` with the exit
code, stdout and stderr when the command fails.  Tests replace the module
level ``runner`` (or pass ``executor=``) instead of patching subprocess.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shlex
import subprocess
from collections.abc import Callable, Sequence

LOG = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 120.0


@dataclasses.dataclass(frozen=True)
class Result:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


class CommandError(Exception):
    """An external command failed, timed out or could not be started."""

    def __init__(self, argv: Sequence[str], returncode: int | None, stdout: str = "",
                 stderr: str = "", reason: str = "") -> None:
        self.argv = tuple(argv)
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        detail = reason or (stderr.strip() or stdout.strip())
        super().__init__(
            f"command {shlex.join(self.argv)!r} failed (exit {returncode}): {detail}")


def _subprocess_run(argv: Sequence[str], timeout: float | None,
                    input: str | None) -> Result:
    try:
        proc = subprocess.run(list(argv), capture_output=True, text=True,
                              timeout=timeout, input=input, check=False,
                              errors="replace")
    except FileNotFoundError as exc:
        raise CommandError(argv, None, reason=f"{argv[0]} is not installed ({exc})") from exc
    except subprocess.TimeoutExpired as exc:
        raise CommandError(argv, None, reason=f"timed out after {timeout:.0f}s") from exc
    return Result(tuple(argv), proc.returncode, proc.stdout, proc.stderr)


Runner = Callable[[Sequence[str], "float | None", "str | None"], Result]

#: Replaceable in tests; production code never assigns it.
runner: Runner = _subprocess_run


def run(argv: Sequence[str], *, timeout: float | None = DEFAULT_TIMEOUT, check: bool = True,
        input: str | None = None, root_helper: Sequence[str] = ()) -> Result:
    """Run ``argv`` and return its :class:`Result`.

    ``check=True`` raises :class:`CommandError` on a non-zero exit.
    ``timeout=None`` waits as long as the command runs (a copy of a large volume).
    ``root_helper`` (for example ``("sudo", "cinder-rootwrap", conf)``) is
    prepended when the command needs privileges the caller lacks.
    """
    full = (*root_helper, *argv)
    LOG.debug("running %s", shlex.join(full))
    result = runner(full, timeout, input)
    if check and not result.ok:
        raise CommandError(full, result.returncode, result.stdout, result.stderr)
    return result


#: Transports that join their command arguments into one string for the remote
#: login shell to parse again (``ssh host a b`` runs ``sh -c 'a b'`` over there).
REMOTE_SHELL_TRANSPORTS = frozenset({"ssh", "rsh", "slogin", "autossh"})


def through_remote_shell(prefix: Sequence[str]) -> bool:
    """Whether ``prefix`` hands its command to a remote shell (``ssh root@node2``,
    also behind wrappers such as ``sudo ssh ...``/``sshpass -e ssh ...``).

    Prefixes that pass an argv on (``python -m lab exec node2``, ``docker exec
    c``, ``ip netns exec ns``, ``sudo``) do not.  The prefix itself never goes
    through a local shell: :func:`run` runs it as an argv.
    """
    return any(os.path.basename(word) in REMOTE_SHELL_TRANSPORTS for word in prefix)


def behind(prefix: Sequence[str], argv: Sequence[str]) -> list[str]:
    """The argv that runs exactly ``argv`` on the other side of ``prefix``.

    Behind a remote shell transport each word of ``argv`` is
    :func:`shlex.quote`-d, so paths with spaces or ``;`` arrive intact instead
    of being split or run; the prefix is kept as given (``ssh node2 sudo`` still
    runs ``sudo`` there).  Other prefixes get the words unchanged.
    """
    words = list(argv)
    if through_remote_shell(prefix):
        words = [shlex.quote(word) for word in words]
    return [*prefix, *words]
