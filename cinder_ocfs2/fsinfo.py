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
"""Pure parsers of OCFS2 identity tools, and one query of a mounted path.

``o2info --volinfo PATH`` (works unprivileged on any file or directory of a
mounted OCFS2 filesystem, through the OCFS2_IOC_INFO ioctl)::

           Label: vol1
            UUID: 2A4D1C5E9B8F4C3DA1B2C3D4E5F60718
      Block Size: 4096
    Cluster Size: 4096
      Node Slots: 4
        Features: backup-super strict-journal-super sparse extended-slotmap
        Features: inline-data xattr indexed-dirs refcount discontig-bg
        Features: clusterinfo unwritten

(the features line wraps at 80 columns and repeats its qualifier).
``o2info --fs-features PATH`` prints only the features, space separated.
``blkid -o export DEVICE``::

    DEVNAME=/dev/sdb
    LABEL=vol1
    UUID=2a4d1c5e-9b8f-4c3d-a1b2-c3d4e5f60718
    BLOCK_SIZE=4096
    TYPE=ocfs2

UUIDs are normalised to the dashed lower-case form blkid prints, so the two
sources compare equal.
"""

from __future__ import annotations

import dataclasses
import uuid as uuidlib
from collections.abc import Sequence

from cinder_ocfs2 import executor

REFCOUNT = "refcount"


class ParseError(ValueError):
    """Tool output does not have the documented layout."""


@dataclasses.dataclass(frozen=True)
class FsInfo:
    uuid: str
    label: str
    slots: int
    block_size: int
    cluster_size: int
    features: frozenset[str]

    @property
    def has_refcount(self) -> bool:
        """Reflinks (FICLONE) need the ``refcount`` feature."""
        return REFCOUNT in self.features


def normalize_uuid(text: str) -> str:
    """``2A4D...0718`` or ``2a4d1c5e-...`` -> ``2a4d1c5e-9b8f-4c3d-a1b2-c3d4e5f60718``."""
    try:
        return str(uuidlib.UUID(text.strip()))
    except ValueError as exc:
        raise ParseError(f"not a filesystem UUID: {text!r}") from exc


def parse_features(text: str) -> frozenset[str]:
    """Parse ``o2info --fs-features`` output (whitespace-separated names)."""
    return frozenset(text.split())


def parse_volinfo(text: str) -> FsInfo:
    """Parse ``o2info --volinfo`` output into :class:`FsInfo`."""
    fields: dict[str, str] = {}
    features: list[str] = []
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key = key.strip()
        if key == "Features":
            features.extend(value.split())
        else:
            fields[key] = value.strip()
    try:
        return FsInfo(
            uuid=normalize_uuid(fields["UUID"]),
            label=fields.get("Label", ""),
            slots=int(fields["Node Slots"]),
            block_size=int(fields["Block Size"]),
            cluster_size=int(fields["Cluster Size"]),
            features=frozenset(features),
        )
    except (KeyError, ValueError) as exc:
        raise ParseError(f"unexpected o2info --volinfo output ({exc}): {text!r}") from exc


def parse_blkid_export(text: str) -> list[dict[str, str]]:
    """Parse ``blkid -o export`` output: one dict per device (blank-line separated).

    ``UUID`` values are normalised when they parse as UUIDs.
    """
    devices: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line:
            if current:
                devices.append(current)
                current = {}
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise ParseError(f"unexpected blkid line: {line!r}")
        if key == "UUID":
            try:
                value = normalize_uuid(value)
            except ParseError:
                pass
        current[key] = value
    if current:
        devices.append(current)
    return devices


def query(path: str, *, root_helper: Sequence[str] = (), timeout: float = 30.0) -> FsInfo:
    """Identify the OCFS2 filesystem that ``path`` lives on (``o2info --volinfo``).

    Raises :class:`executor.CommandError` when o2info fails (not OCFS2, not
    mounted, ocfs2-tools missing) and :class:`ParseError` on odd output.
    """
    result = executor.run(["o2info", "--volinfo", path], timeout=timeout,
                          root_helper=root_helper)
    return parse_volinfo(result.stdout)
