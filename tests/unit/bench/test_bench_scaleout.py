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
"""bench/bench_scaleout.py's pure parts: percentiles, a burst's summary, the table."""

from __future__ import annotations

import bench_scaleout as scaleout  # bench/ is on sys.path: conftest.py
import pytest


def test_percentile_interpolates_between_ranks():
    assert scaleout.percentile([3.0, 1.0, 2.0], 0.5) == 2.0
    assert scaleout.percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert scaleout.percentile([1.0, 2.0], 0.95) == pytest.approx(1.95)
    assert scaleout.percentile([7.0], 0.95) == 7.0
    with pytest.raises(ValueError):
        scaleout.percentile([], 0.5)


def test_summary_runs_from_the_first_submission_to_the_last_available():
    started = {"a": 100.0, "b": 101.0}
    done = {"a": 104.0, "b": 110.0}
    s = scaleout.summarize(2, 100.0, done, started)
    assert s["seconds"] == 10.0 and s["ops_per_s"] == 0.2
    assert s["p50"] == 6.5 and s["ops"] == 2


def test_table_gives_the_ratio_of_two_services_to_one():
    results = [{"services": 2, "ops": 50, "seconds": 50.0, "ops_per_s": 1.0, "p50": 20.0,
                "p95": 40.0},
               {"services": 1, "ops": 50, "seconds": 80.0, "ops_per_s": 0.625, "p50": 30.0,
                "p95": 70.0}]
    text = scaleout.table(results)
    assert "| 2 | 50 | 50.0 | 1.00 | 20.0 | 40.0 |" in text
    assert "**1.60x**" in text
