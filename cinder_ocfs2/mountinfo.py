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
"""Pure parser of ``/proc/self/mountinfo`` (see proc(5)).

One line per mount; a real line from an OCFS2 node::

    412 29 8:16 / /var/lib/cinder/ocfs2/vol1 rw,relatime shared:224 - ocfs2 /dev/sdb \\
        rw,_netdev,heartbeat=local,nointr,data=ordered,errors=remount-ro,coherency=full

(one line in the file; wrapped here).

Fields: mount id, parent id, major:minor, root inside the filesystem, mount
point, per-mount options, zero or more optional fields (``shared:N``,
``master:N``, ``propagate_from:N``, ``unbindable``) ended by ``-``, then the
filesystem type, the mount source and the per-superblock options.  Paths are
octal-escaped (``\\040`` for a space).

The device number of a shared disk differs between nodes (8:0 on one, 8:16
on another), so callers must never identify a filesystem by it; use the
OCFS2 UUID from :mod:`cinder_ocfs2.fsinfo`.
"""

from __future__ import annotations

import dataclasses
import os
import re

DEFAULT_PATH = "/proc/self/mountinfo"

_OCTAL = re.compile(r"\\([0-7]{3})")


class ParseError(ValueError):
    """A mountinfo line does not have the documented layout."""


def unescape(field: str) -> str:
    """Undo the kernel's octal escaping of space, tab, newline and backslash."""
    return _OCTAL.sub(lambda m: chr(int(m.group(1), 8)), field)


def parse_options(text: str) -> dict[str, str | None]:
    """``"rw,errors=remount-ro"`` -> ``{"rw": None, "errors": "remount-ro"}``."""
    options: dict[str, str | None] = {}
    for item in text.split(","):
        if not item:
            continue
        key, sep, value = item.partition("=")
        options[key] = value if sep else None
    return options


@dataclasses.dataclass(frozen=True)
class Mount:
    mount_id: int
    parent_id: int
    major_minor: tuple[int, int]
    root: str
    mount_point: str
    options: dict[str, str | None]
    optional_fields: tuple[str, ...]
    fstype: str
    source: str
    super_options: dict[str, str | None]

    @property
    def read_only(self) -> bool:
        """True when either the mount or the superblock is read-only.

        ``errors=remount-ro`` flips the superblock to ``ro`` while the
        per-mount options may still say ``rw``.
        """
        return "ro" in self.options or "ro" in self.super_options

    @property
    def propagation(self) -> dict[str, str | None]:
        """Optional fields as a dict: ``{"shared": "224", "master": "5"}``."""
        result: dict[str, str | None] = {}
        for item in self.optional_fields:
            key, sep, value = item.partition(":")
            result[key] = value if sep else None
        return result


def parse_line(line: str) -> Mount:
    """Parse one mountinfo line into a :class:`Mount`."""
    fields = line.rstrip("\n").split(" ")
    try:
        sep = fields.index("-", 6)
    except ValueError as exc:
        raise ParseError(f"no '-' separator in mountinfo line: {line!r}") from exc
    if len(fields) < sep + 3:
        raise ParseError(f"truncated mountinfo line: {line!r}")
    try:
        major, minor = (int(x) for x in fields[2].split(":", 1))
        mount_id, parent_id = int(fields[0]), int(fields[1])
    except ValueError as exc:
        raise ParseError(f"bad numbers in mountinfo line: {line!r}") from exc
    return Mount(
        mount_id=mount_id,
        parent_id=parent_id,
        major_minor=(major, minor),
        root=unescape(fields[3]),
        mount_point=unescape(fields[4]),
        options=parse_options(fields[5]),
        optional_fields=tuple(f for f in fields[6:sep] if f),
        fstype=fields[sep + 1],
        source=unescape(fields[sep + 2]),
        super_options=parse_options(fields[sep + 3]) if len(fields) > sep + 3 else {},
    )


def parse(text: str) -> list[Mount]:
    """Parse the whole of a mountinfo file, in kernel order."""
    return [parse_line(line) for line in text.splitlines() if line.strip()]


def read(path: str = DEFAULT_PATH) -> list[Mount]:
    """Read and parse ``path`` (default ``/proc/self/mountinfo``)."""
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        return parse(f.read())


def find(mounts: list[Mount], path: str) -> Mount | None:
    """The mount that ``path`` lives on (the last, i.e. topmost, longest match).

    ``path`` is normalised but symlinks are not resolved; pass a realpath if
    that matters.
    """
    path = os.path.normpath(path)
    best: Mount | None = None
    for mount in mounts:
        mp = mount.mount_point
        if path == mp or path.startswith(mp.rstrip("/") + "/"):
            if best is None or len(mp) >= len(best.mount_point):
                best = mount
    return best


def at(mounts: list[Mount], mount_point: str) -> Mount | None:
    """The topmost mount exactly at ``mount_point`` (over-mounts win)."""
    mount_point = os.path.normpath(mount_point)
    hits = [m for m in mounts if m.mount_point == mount_point]
    return hits[-1] if hits else None
