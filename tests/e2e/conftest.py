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
"""The e2e scenario's per-step timings (the ``deployment`` fixture is e2e/fixtures.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from e2e import config, fixtures


class Timings:
    def __init__(self) -> None:
        self.rows: list[tuple[str, float, str]] = []

    def add(self, step: str, seconds: float, outcome: str) -> None:
        self.rows.append((step, seconds, outcome))

    def table(self) -> str:
        total = sum(s for _, s, _ in self.rows)
        lines = ["| step | seconds | outcome |", "|---|---:|---|"]
        lines += [f"| {name} | {sec:.1f} | {out} |" for name, sec, out in self.rows]
        lines.append(f"| **total** | **{total:.1f}** | |")
        return "\n".join(lines) + "\n"


TIMINGS = Timings()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    t0 = time.monotonic()
    outcome = yield
    if item.get_closest_marker("e2e_step"):
        status = "ok"
        if outcome.excinfo is not None:
            exc = outcome.excinfo[1]
            kind = "skipped" if isinstance(exc, pytest.skip.Exception) else "FAILED"
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            status = f"{kind}: {first[:120]}"
        TIMINGS.add(item.name, time.monotonic() - t0, status.replace("|", "/"))


def pytest_sessionfinish(session: pytest.Session) -> None:
    if fixtures.DEPLOY_SECONDS is not None:
        TIMINGS.rows.insert(0, ("deploy (lab + control plane + node services)",
                                fixtures.DEPLOY_SECONDS, "ok"))
    if not TIMINGS.rows:
        return
    text = TIMINGS.table()
    out = config.STATE_DIR.parent / "e2e-timings.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("# e2e: operators' scenario, per-step timings\n\n" + text)
    print("\n" + text + f"(written to {out})")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "e2e_step: a timed step of the operators' scenario")
