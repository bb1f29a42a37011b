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
"""Tests for cinder_ocfs2.cli.common: how the remote command is built behind --peer."""

from __future__ import annotations

import pathlib
import shlex
import stat
import sys

import pytest

from cinder_ocfs2.cli import common

CLI = ("cinder-ocfs2",)
NASTY = ["verify", "/mnt/lab0/a b; touch pwned", "--check", "$(id)", "it's", ""]


@pytest.mark.parametrize("prefix", [("ssh", "node2"), ("ssh", "-p", "2222", "root@node2"),
                                    ("/usr/bin/ssh", "node2", "sudo"),
                                    ("sshpass", "-e", "ssh", "node2"), ("rsh", "node2")])
def test_remote_shell_prefix_gets_quoted_words(prefix):
    argv = common.remote_argv(prefix, CLI, NASTY)
    assert argv[:len(prefix)] == list(prefix)  # the prefix itself is kept as given
    assert argv[len(prefix):] == [shlex.quote(w) for w in (*CLI, *NASTY)]
    # ssh joins its command words with spaces; the remote shell splits them again
    assert shlex.split(" ".join(argv[len(prefix):])) == [*CLI, *NASTY]


@pytest.mark.parametrize("prefix", [(sys.executable, "-m", "lab", "exec", "node2"),
                                    ("docker", "exec", "node2"), ("sudo",), ()])
def test_argv_prefix_gets_the_words_unchanged(prefix):
    assert not common.through_remote_shell(prefix)
    assert common.remote_argv(prefix, CLI, NASTY) == [*prefix, *CLI, *NASTY]


def write_script(path: pathlib.Path, text: str) -> str:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


@pytest.fixture
def echo_cli(tmp_path) -> tuple[str, ...]:
    """A remote "cinder-ocfs2" that prints the argv it received as JSON."""
    script = tmp_path / "echo_argv.py"
    script.write_text("import json, sys\nprint(json.dumps(sys.argv[1:]))\n")
    return (sys.executable, str(script))


def test_argv_reaches_the_remote_side_intact_through_a_shell(tmp_path, echo_cli, monkeypatch):
    # a stand-in for ssh that does what ssh does: drop the host, join the rest with
    # spaces, hand that one string to the (remote) shell
    fake_ssh = write_script(tmp_path / "ssh", '#!/bin/sh\nshift\nexec /bin/sh -c "$*"\n')
    monkeypatch.chdir(tmp_path)
    argv = ["verify", f"{tmp_path}/a b; touch {tmp_path}/pwned", "--check", "--json"]
    assert common.run_remote_json([fake_ssh, "node2"], echo_cli, argv) == argv
    assert not (tmp_path / "pwned").exists()


def test_argv_reaches_the_remote_side_intact_through_an_argv_prefix(tmp_path, echo_cli):
    # a prefix that passes an argv on (as `python -m lab exec NODE` does): no quoting
    argv = ["verify", f"{tmp_path}/a b; touch {tmp_path}/pwned", "--check", "--json"]
    assert common.run_remote_json(["env"], echo_cli, argv) == argv
    assert not (tmp_path / "pwned").exists()


def test_no_json_error_names_the_command_that_ran(fake_exec):
    fake_exec.on(["ssh"], stdout="bash: cinder-ocfs2: command not found", rc=127)
    with pytest.raises(common.CliError, match="did not print JSON") as exc:
        common.run_remote_json(["ssh", "node2"], CLI, ["verify", "/a b"])
    (call,) = fake_exec.calls
    assert call == ["ssh", "node2", "cinder-ocfs2", "verify", "'/a b'"]
    assert str(exc.value).startswith(shlex.join(call) + " did not print JSON (exit 127)")
