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

from cinder_ocfs2 import locks


def test_shared_backends_are_fine():
    for url in ("etcd3+http://controller:2379", "redis://controller:6379",
                "mysql://cinder@db/cinder"):
        assert locks.backend_url_problem(url, clustered=True, shared_host=False) is None


def test_file_driver_alone_is_fine():
    assert locks.backend_url_problem("file:///var/lib/cinder", False, False) is None
    assert locks.backend_url_problem(None, False, False) is None


def test_file_driver_clustered_is_fatal():
    problem = locks.backend_url_problem("file:///var/lib/cinder", True, False)
    assert problem and problem.fatal
    assert "with cluster set" in problem.message and "fcntl" in problem.message


def test_file_driver_with_a_shared_backend_host_is_a_warning():
    problem = locks.backend_url_problem("file:///var/lib/cinder", False, True)
    assert problem and not problem.fatal
    assert "with backend_host set" in problem.message


def test_postgresql_is_a_warning_naming_the_key_space():
    for url in ("postgresql://postgres@db/cinder", "postgres://db/cinder"):
        problem = locks.backend_url_problem(url, True, False)
        assert problem and not problem.fatal
        assert "65,536" in problem.message and "etcd3+http://" in problem.message
