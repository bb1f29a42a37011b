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
"""Tests for cinder_ocfs2.names."""

from __future__ import annotations

import uuid

import pytest

from cinder_ocfs2 import names

ID = "0b9f9f3c-1b7a-4c1e-9a56-7f3d2b1e4c11"


def test_defaults_are_cinders():
    assert names.DEFAULT_VOLUME_TEMPLATE == "volume-%s"
    assert names.DEFAULT_SNAPSHOT_TEMPLATE == "snapshot-%s"
    assert names.DEFAULT_TEMPLATES == ("volume-%s", "snapshot-%s")


def test_id_from_exact_names():
    assert names.id_from(f"volume-{ID}", "volume-%s") == ID
    assert names.id_from(f"snapshot-{ID}", "snapshot-%s") == ID
    fresh = str(uuid.uuid4())
    assert names.id_from(f"volume-{fresh}", names.DEFAULT_VOLUME_TEMPLATE) == fresh


@pytest.mark.parametrize("name", [
    f"volume-{ID}.raw", f"volume-{ID}.info", f".tmp-volume-{ID}-0123456789ab",
    f"xvolume-{ID}", f"volume-{ID.upper()}", f"volume-{ID.replace('-', '')}",
    f"volume-{{{ID}}}", f"volume-{ID[:-1]}", f"volume-{ID}0", "volume-1", "volume-",
    f"snapshot-{ID}", f"volume-{ID}\n", f"volume-{ID}/x",
])
def test_id_from_refuses_everything_else(name):
    assert names.id_from(name, "volume-%s") is None


def test_other_templates_and_literal_percent():
    assert names.id_from(f"vol_{ID}.img", "vol_%s.img") == ID
    assert names.id_from(f"vol_{ID}", "vol_%s.img") is None
    assert names.id_from(f"100%-{ID}", "100%%-%s") == ID
    assert names.id_from(f"a.b-{ID}", "a.b-%s") == ID
    assert names.id_from(f"aXb-{ID}", "a.b-%s") is None  # "." is literal


@pytest.mark.parametrize("template", ["volume", "volume-%d", "%s-%s", "%(id)s"])
def test_bad_template_is_named(template):
    with pytest.raises(ValueError, match="exactly one %s"):
        names.id_from("volume-x", template)


def test_patterns_are_cached():
    names._pattern.cache_clear()
    for _ in range(3):
        names.id_from(f"volume-{ID}", "volume-%s")
    info = names._pattern.cache_info()
    assert (info.misses, info.hits) == (1, 2)


def test_is_cinder_name():
    assert names.is_cinder_name(f"volume-{ID}")
    assert names.is_cinder_name(f"snapshot-{ID}")
    assert not names.is_cinder_name(f"volume-{ID}.tmp")
    assert not names.is_cinder_name("old-disk.raw")
    assert names.is_cinder_name(f"v-{ID}", ["v-%s"])
    assert names.is_cinder_name(f"v-{ID}", "v-%s")  # one template, not its characters
    assert not names.is_cinder_name(f"volume-{ID}", ())
    assert not names.is_cinder_name("", ())


def test_is_cinder_name_matches_all_templates_at_once():
    templates = ("vol.(%s)", "vol.(%s).snap")  # regex characters are literal
    assert names.is_cinder_name(f"vol.({ID})", templates)
    assert names.is_cinder_name(f"vol.({ID}).snap", templates)  # the longer one too
    assert not names.is_cinder_name(f"volx({ID})", templates)
    assert not names.is_cinder_name(f"vol.({ID}).snapx", templates)
