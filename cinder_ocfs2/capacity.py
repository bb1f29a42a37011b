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
"""Pool capacity: statvfs for total/free, one scandir for provisioned.

Never ``du``: reflinked extents are shared between a volume, its snapshots
and its clones, so summing allocated blocks over-counts.  ``total`` and
``free`` come from the filesystem (statvfs), which OCFS2 keeps exact for
shared extents; ``provisioned`` is the sum of the apparent sizes of the
volume *and snapshot* files (a snapshot shares its volume's extents today
but can grow to its full size as either side is written), from a single
``os.scandir`` of the pool directory.  A file counts when its name is
exactly a Cinder name (:mod:`cinder_ocfs2.names`): temporary files and
companions such as ``volume-<id>.info`` do not.
"""

from __future__ import annotations

import dataclasses
import os
import stat
from collections.abc import Iterable

from cinder_ocfs2 import names

GiB = 1024 ** 3


@dataclasses.dataclass(frozen=True)
class Capacity:
    total_bytes: int
    free_bytes: int
    provisioned_bytes: int
    volume_count: int  # files counted in provisioned_bytes: volumes and snapshots

    @property
    def total_gb(self) -> float:
        return to_gb(self.total_bytes)

    @property
    def free_gb(self) -> float:
        return to_gb(self.free_bytes)

    @property
    def provisioned_gb(self) -> float:
        return to_gb(self.provisioned_bytes)


def to_gb(nbytes: int) -> float:
    """Bytes to GiB, rounded down to 2 decimals (never over-report)."""
    return int(nbytes * 100 // GiB) / 100


def space(path: str) -> tuple[int, int]:
    """(total, free) bytes of the filesystem holding ``path``.

    ``free`` is ``f_bavail``: what an unprivileged service may still use.
    """
    st = os.statvfs(path)
    return st.f_blocks * st.f_frsize, st.f_bavail * st.f_frsize


def provisioned(path: str,
                templates: Iterable[str] = names.DEFAULT_TEMPLATES) -> tuple[int, int]:
    """(sum of apparent sizes, count) of the Cinder-named regular files in ``path``.

    ``templates`` are Cinder's ``(volume_name_template, snapshot_name_template)``;
    files directly in ``path`` whose name matches one of them are counted.

    The directory is scanned through an open descriptor, so each entry's ``stat``
    is an ``fstatat`` of the bare name (as ``du`` does) rather than a walk of the
    whole path again from ``/``: 11,000 of them on the host, 36 -> 30 ms.
    """
    is_cinder = names.matcher(templates)
    total = count = 0
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        with os.scandir(fd) as entries:
            for entry in entries:
                if not is_cinder(entry.name):
                    continue
                try:
                    st = entry.stat(follow_symlinks=False)
                except FileNotFoundError:  # deleted while we looked
                    continue
                if stat.S_ISREG(st.st_mode):
                    total += st.st_size
                    count += 1
    finally:
        os.close(fd)
    return total, count


def measure(path: str, templates: Iterable[str] = names.DEFAULT_TEMPLATES) -> Capacity:
    total, free = space(path)
    prov, count = provisioned(path, templates)
    return Capacity(total, free, prov, count)
