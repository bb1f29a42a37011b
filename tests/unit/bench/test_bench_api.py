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
"""bench/bench_api.py's pure parts: percentiles, sizes, the NFS peer's config and
mount point, the summary and its markdown table."""

from __future__ import annotations

import argparse
import configparser

import bench_api  # bench/ is on sys.path: conftest.py
import pytest

NODE_CONF = """# cinder-volume and cinder-backup on lab node node1 (rendered by e2e/nodes.py).
[DEFAULT]
host = node1
cluster = ocfs2-aa
my_ip = 10.77.0.11
enabled_backends = ocfs2,ocfs2b
cinder_internal_tenant_project_id = p1
state_path = /var/lib/cinder

[database]
connection = postgresql+psycopg2://postgres@10.77.0.1:5432/cinder

[oslo_concurrency]
lock_path = /var/lib/cinder/locks

[coordination]
backend_url = postgresql://postgres@10.77.0.1:5432/cinder

[ocfs2]
volume_driver = cinder_ocfs2.driver.OCFS2Driver
volume_backend_name = ocfs2
"""


@pytest.mark.parametrize(("values", "q", "want"), [
    ([3.0], 50, 3.0),
    ([3.0], 95, 3.0),
    ([1.0, 2.0, 3.0, 4.0], 50, 2.5),
    ([5.0, 1.0, 4.0, 2.0, 3.0], 50, 3.0),
    ([5.0, 1.0, 4.0, 2.0, 3.0], 95, 4.8),
    ([5.0, 1.0, 4.0, 2.0, 3.0], 100, 5.0),
    ([5.0, 1.0, 4.0, 2.0, 3.0], 0, 1.0),
])
def test_percentile_is_linear_between_ranks(values: list[float], q: float, want: float) -> None:
    assert bench_api.percentile(values, q) == pytest.approx(want)


def test_percentile_refuses_nothing_and_out_of_range() -> None:
    with pytest.raises(ValueError):
        bench_api.percentile([], 50)
    with pytest.raises(ValueError):
        bench_api.percentile([1.0], 101)


def test_parse_sizes() -> None:
    assert bench_api.parse_sizes("1") == [1]
    assert bench_api.parse_sizes("1,8") == [1, 8]
    assert bench_api.parse_sizes("1G, 8GiB") == [1, 8]
    for bad in ("0", "256M", "1,x", ""):
        with pytest.raises(argparse.ArgumentTypeError):
            bench_api.parse_sizes(bad)


def test_parse_skip_takes_only_what_nothing_depends_on() -> None:
    assert bench_api.parse_skip("backup") == ["backup"]
    assert bench_api.parse_skip("") == []
    with pytest.raises(argparse.ArgumentTypeError, match="cannot skip 'snapshot'"):
        bench_api.parse_skip("backup,snapshot")


def test_mount_point_is_where_os_brick_looks() -> None:
    remotefs = pytest.importorskip("os_brick.remotefs.remotefs")
    client = remotefs.RemoteFsClient("nfs", "true", nfs_mount_point_base="/base")
    share = "127.0.0.1:/bench-api-nfs"
    assert bench_api.mount_point("/base", share) == client.get_mount_point(share)
    assert bench_api.mount_point("/base", share) == \
        "/base/4c36d7542c600df65e704d521f3ea55c"


def test_nfs_conf_keeps_the_plumbing_and_replaces_the_backends() -> None:
    conf = configparser.ConfigParser(interpolation=None, default_section="__none__")
    conf.read_string(bench_api.nfs_conf(NODE_CONF))
    default = dict(conf["DEFAULT"])
    assert "cluster" not in default  # a lone service, not a member of ocfs2-aa
    assert default["host"] == "node1"
    assert default["enabled_backends"] == "nfsbench"
    assert default["cinder_internal_tenant_project_id"] == "p1"
    assert conf["database"]["connection"].startswith("postgresql+psycopg2://")
    assert conf["coordination"]["backend_url"].startswith("postgresql://")
    assert conf["oslo_concurrency"]["lock_path"] == "/var/lib/cinder/locks"
    assert not conf.has_section("ocfs2")
    nfs = conf["nfsbench"]
    assert nfs["volume_driver"] == "cinder.volume.drivers.nfs.NfsDriver"
    assert nfs["volume_backend_name"] == "nfsbench"
    assert nfs["nfs_snapshot_support"] == "True"
    assert nfs["nas_secure_file_operations"] == "false"
    assert nfs["image_volume_cache_enabled"] == "True"
    assert nfs["nfs_mount_point_base"] == bench_api.NFS_MOUNT_BASE


def _samples() -> dict:
    sizes = {1: {op: [] for op in bench_api.OPERATIONS}}
    samples = {b: {s: {op: list(v) for op, v in ops.items()} for s, ops in sizes.items()}
               for b in bench_api.BACKENDS}
    samples["ocfs2"][1]["clone"] = [1.0, 2.0, 3.0]
    samples["nfs"][1]["clone"] = [20.0, 30.0, 40.0]
    samples["ocfs2"][1]["backup"] = [50.0]
    samples["nfs"][1]["backup"] = [40.0, 45.0]
    return samples


def test_summarize_and_markdown() -> None:
    rows = bench_api.summarize(_samples())
    assert [r["operation"] for r in rows] == ["clone", "backup"]  # the table's order
    clone = rows[0]
    assert clone["ocfs2"] == {"n": 3, "p50": 2.0, "p95": pytest.approx(2.9)}
    assert clone["ratio"] == pytest.approx(15.0)
    table = bench_api.markdown(rows).splitlines()
    assert table[0].startswith("| size | operation | OCFS2 p50 s")
    assert table[2] == "| 1 GiB | clone | 2.0 | 2.9 | 30.0 | 39.0 | 15x | 3 |"
    assert table[3] == "| 1 GiB | backup | 50.0 | 50.0 | 42.5 | 44.8 | 0.8x | 1/2 |"


def test_summarize_without_one_backend() -> None:
    samples = _samples()
    samples["nfs"][1]["clone"] = []
    rows = bench_api.summarize(samples)
    assert rows[0]["nfs"] == {"n": 0, "p50": None, "p95": None}
    assert rows[0]["ratio"] is None
    assert "| 1 GiB | clone | 2.0 | 2.9 |  |  |  | 3/0 |" in bench_api.markdown(rows)
