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
"""Errors raised by the Cinder-free modules (the CLI reuses them).

Each class carries a message template; every message names the fix.  The
driver translates them into Cinder exceptions at its boundary.
"""

from __future__ import annotations


class OCFS2Error(Exception):
    """Base class: ``message`` is a %-template filled from keyword arguments."""

    message = "an unexpected OCFS2 error occurred"

    def __init__(self, message: str | None = None, **kwargs: object) -> None:
        self.kwargs = kwargs
        if message is None:
            try:
                message = self.message % kwargs
            except (KeyError, TypeError, ValueError):
                message = f"{self.message} {kwargs!r}"
        super().__init__(message)


class PoolUnavailable(OCFS2Error):
    message = "OCFS2 pool %(pool)s at %(path)s is unavailable: %(reason)s"


class UnknownPool(OCFS2Error):
    message = ("this backend serves no OCFS2 pool named %(pool)r (pools: %(known)s); "
               "mount the filesystem under the mount point base or add it to "
               "ocfs2_mount_points")


class VolumeFileError(OCFS2Error):
    message = "volume file %(path)s: %(reason)s"


class InvalidProvisioningType(OCFS2Error):
    message = ("volume type %(type)s asks for provisioning:type=%(kind)r; this driver knows "
               "'thin' (the default) and 'thick': fix the extra spec with openstack volume "
               "type set --property provisioning:type=thin|thick")


class InvalidPath(OCFS2Error):
    message = "%(path)s is not allowed: %(reason)s"


class FilesystemMissing(OCFS2Error):
    message = ("%(what)s is on OCFS2 filesystem %(uuid)s, which is not mounted here (this "
               "node's pools: %(known)s); mount that disk under the mount point base on "
               "this node (a relabelled filesystem keeps its UUID) and retry")


class TornCopy(OCFS2Error):
    message = ("refusing to copy %(path)s while it is attached: %(why)s, and a plain copy of "
               "a disk the guest is still writing is not a point in time. Detach the volume "
               "first, or enable reflinks on its filesystem (unmount it on every node, then "
               "tunefs.ocfs2 --fs-features=refcount DEVICE)")


class AttachedExtend(OCFS2Error):
    message = ("refusing to extend volume %(volume)s while it is attached to server "
               "%(servers)s: Nova's libvirt driver for file volumes (gpfs) cannot resize an "
               "attached disk, so the guest would keep seeing the old size. The file is "
               "unchanged. Reset the volume (cinder reset-state --state in-use ID), detach it, "
               "extend it, attach it again; to refuse such requests at the API instead, deny "
               "volume:extend_attached_volume in Cinder's policy")
