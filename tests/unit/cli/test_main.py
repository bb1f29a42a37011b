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
"""Tests for the cinder-ocfs2 entry point: verb table, help, error handler, exit codes."""

from __future__ import annotations

import pytest

from cinder_ocfs2.cli import common, main, status


def test_every_verb_has_help(capsys):
    for verb in main.VERBS:
        with pytest.raises(SystemExit) as exc:
            main.main([verb, "--help"])
        assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "exit codes:" in out and "--peer NAME=PREFIX" in out


def test_top_level_help_documents_exit_codes(capsys):
    with pytest.raises(SystemExit):
        main.main(["--help"])
    out = capsys.readouterr().out
    for verb in ("status", "doctor", "node", "disk", "verify"):
        assert verb in out
    assert "5  refused" in out


def test_usage_error_exits_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main.main(["frobnicate"])
    assert exc.value.code == 2


def test_error_handler_prints_name_and_message(monkeypatch, capsys):
    def boom(args):
        raise RuntimeError("configfs exploded")

    monkeypatch.setattr(status, "run", boom)
    assert main.main(["status"]) == 1
    assert capsys.readouterr().err == "--> RuntimeError: configfs exploded\n"


def test_refused_exit_code(monkeypatch, capsys):
    def refuse(args):
        raise common.Refused("nothing was changed")

    monkeypatch.setattr(status, "run", refuse)
    assert main.main(["status"]) == 5
    assert "--> Refused: nothing was changed" in capsys.readouterr().err


def test_debug_env_reraises(monkeypatch):
    def boom(args):
        raise RuntimeError("configfs exploded")

    monkeypatch.setattr(status, "run", boom)
    monkeypatch.setenv("CINDER_OCFS2_DEBUG", "1")
    with pytest.raises(RuntimeError, match="configfs exploded"):
        main.main(["status"])


def test_peer_type():
    assert common.peer("node2=ssh root@node2") == ("node2", ("ssh", "root@node2"))
    assert common.peer("node1=") == ("node1", ())
    with pytest.raises(Exception, match="NAME=COMMAND-PREFIX"):
        common.peer("node2")


def test_confirm(monkeypatch):
    common.confirm("really?", yes=True)
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt: "y")
    common.confirm("really?", yes=False)
    monkeypatch.setattr("builtins.input", lambda prompt: "")
    with pytest.raises(common.Refused, match="not confirmed"):
        common.confirm("really?", yes=False)


def test_table_and_bytes():
    assert common.table(["A", "BB"], [["x", None], ["long", 3]]) == "A     BB\nx\nlong  3"
    assert common.human_bytes(2 * 1024 ** 3) == "2.0GiB"
    assert common.human_bytes(None) == "?"
