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
"""Tests for bench/run_all.py: which command each benchmark runs."""

from __future__ import annotations

import run_all  # bench/ is on sys.path: conftest.py


def test_api_args_go_to_the_api_bench_only() -> None:
    args = "--sizes 1,8 --skip backup --json 'a b.json'"
    argv, timeout = run_all.argv_for("api", args)
    assert argv[-6:] == ["--sizes", "1,8", "--skip", "backup", "--json", "a b.json"]
    assert timeout >= 3 * 3600
    assert run_all.argv_for("api")[0] == run_all.BENCHES["api"][0]
    assert run_all.argv_for("scale", args)[0] == run_all.BENCHES["scale"][0]


def test_argv_for_leaves_the_table_alone() -> None:
    before = list(run_all.BENCHES["api"][0])
    run_all.argv_for("api", "--runs 1")[0].append("x")
    assert run_all.BENCHES["api"][0] == before
