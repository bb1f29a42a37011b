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
"""All cinder-ocfs2 configuration options, in one place.

``list_opts()`` is the ``oslo.config.opts`` entry point, so
``oslo-config-generator --namespace cinder_ocfs2`` lists them.  Standard
Cinder options the driver honours (``max_over_subscription_ratio``,
``reserved_percentage``, ``image_volume_cache_enabled``,
``backup_use_temp_snapshot`` ...) are Cinder's own and are not redefined.
"""

from __future__ import annotations

from oslo_config import cfg

OCTAL_MODE_REGEX = r"^0?[0-7]{3}$"

ocfs2_opts = [
    cfg.ListOpt("ocfs2_mount_points", default=[],
                help="Mount points of the OCFS2 filesystems this backend serves, one pool "
                     "each. Empty (the default): serve every OCFS2 filesystem mounted under "
                     "ocfs2_mount_point_base, discovered again at every stats refresh, so a "
                     "newly mounted disk becomes a pool without a restart."),
    cfg.StrOpt("ocfs2_mount_point_base", default="/var/lib/cinder/ocfs2",
               help="Directory under which OCFS2 filesystems are mounted (as seen by the "
                    "cinder-volume service)."),
    cfg.StrOpt("ocfs2_pool_name", default="label", choices=["label", "directory"],
               help="How pools are named: 'label' uses the filesystem label (falling back "
                    "to the mount directory's name when the label is empty); 'directory' "
                    "always uses the mount directory's name."),
    cfg.StrOpt("ocfs2_volume_mode", default="0660", regex=OCTAL_MODE_REGEX,
               help="Octal permission mode of volume and snapshot files. Files are owned "
                    "by the service user; world-writable modes are refused."),
    cfg.DictOpt("ocfs2_connector_path_map", default={},
                help="Prefix rewrites applied to the device_path handed to connectors, as "
                     "service_prefix:host_prefix pairs, for deployments (kolla) where "
                     "compute hosts see the filesystems at another path than the "
                     "cinder-volume container, e.g. "
                     "/var/lib/cinder/ocfs2:/var/opt/mnt/ocfs2"),
    cfg.StrOpt("ocfs2_images_dir",
               help="The Glance file store's directory (its filesystem_store_datadir) as "
                    "this service sees it, when it is on one of the pools' OCFS2 "
                    "filesystems. A volume created from a raw image kept there is then a "
                    "reflink of the image file <dir>/<image id> (instant, no download). "
                    "Unset: images are always downloaded."),
    cfg.BoolOpt("ocfs2_sparse_copy_fallback", default=True,
                help="When a reflink is impossible (another filesystem, or a filesystem "
                     "without the refcount feature) fall back to a sparse copy. If False "
                     "such operations fail instead. A point-in-time copy of an attached "
                     "volume (snapshot, backup, upload) never falls back: a copy of a "
                     "disk the guest is writing would be torn, so it is refused."),
    cfg.IntOpt("ocfs2_temp_file_max_age", default=86400, min=600,
               help="Seconds after which an orphaned temporary file (.tmp-*) left by an "
                    "interrupted operation is removed at setup and stats time."),
    cfg.StrOpt("ocfs2_cluster_configfs", default="/sys/kernel/config/cluster",
               help="Where the o2cb cluster state is read (configfs)."),
    cfg.BoolOpt("ocfs2_check_cluster", default=True,
                help="Report every pool down while the o2cb cluster is not online."),
]


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    """Entry point for oslo-config-generator (namespace ``cinder_ocfs2``)."""
    return [("backend", list(ocfs2_opts))]
