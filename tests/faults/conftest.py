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
"""The fault suite's report: one row per scenario, written when the session ends.

Each scenario adds a :class:`Row` with the operations it had in flight, the
faults it injected, the data it lost (checksums that changed or volumes that
vanished; must be 0), the orphans it found (files in the pools that no
Cinder volume or snapshot owns once the scenario cleaned up; must be 0) and
the seconds from the end of the fault to service again. ``make faults``
prints the table and writes it to ``.lab/faults-report.md``.
"""

from __future__ import annotations

import dataclasses
import time

import pytest

from e2e import config
from e2e.api import clean_up, osc, osc_json
from lab.lab import Lab


@dataclasses.dataclass
class Row:
    scenario: str
    in_flight: int = 0
    faults: int = 0
    data_lost: int = 0
    orphans: int = 0
    recovery_s: float | None = None
    outcome: str = "ok"


ROWS: list[Row] = []
#: Every resource the suite makes is named with this prefix.
PREFIX = "fault-"


@pytest.fixture(scope="session", autouse=True)
def fault_project(deployment: Lab) -> None:
    """Room for the load scenario (40 operations) and no leftovers of an earlier run."""
    project = osc_json("project", "show", config.ADMIN_PROJECT)["id"] \
        if config.AUTH == "keystone" else config.PROJECT_ID
    osc("quota", "set", "--volumes", "200", "--snapshots", "200", "--gigabytes", "2000",
        project)
    clean_up(PREFIX)


@pytest.fixture
def report(request: pytest.FixtureRequest) -> Row:
    """This scenario's row; it is marked FAILED when the test fails."""
    doc = (request.function.__doc__ or request.function.__name__).strip()
    row = Row(scenario=doc.splitlines()[0].rstrip("."))
    ROWS.append(row)
    return row


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    rep = outcome.get_result()
    if rep.when == "call" and rep.failed and ROWS:
        first = (str(call.excinfo.value).strip().splitlines() or ["failed"])[0] \
            if call.excinfo else "failed"
        ROWS[-1].outcome = f"FAILED: {first[:100]}".replace("|", "/")


def table() -> str:
    lines = ["| scenario | operations in flight | faults injected | data lost | orphans "
             "| recovery (s) | outcome |", "|---|---:|---:|---:|---:|---:|---|"]
    for r in ROWS:
        rec = "" if r.recovery_s is None else f"{r.recovery_s:.0f}"
        lines.append(f"| {r.scenario} | {r.in_flight} | {r.faults} | {r.data_lost} | "
                     f"{r.orphans} | {rec} | {r.outcome} |")
    return "\n".join(lines) + "\n"


def pytest_sessionfinish(session: pytest.Session) -> None:
    if not ROWS:
        return
    out = config.STATE_DIR.parent / "faults-report.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    out.write_text(f"# make faults, {stamp}\n\n" + table())
    print("\n" + table() + f"(written to {out})")
