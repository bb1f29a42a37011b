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
"""The lab image's compute variant (LAB_COMPUTE, which E2E_NOVA=1 turns on): it
enters the recipe only when on, so the default image and its hash are unchanged."""

import importlib
import json
from pathlib import Path

import pytest

from lab import config, image

#: recipe_hash() of the default image before the compute variant existed. If the
#: default recipe changes on purpose, update it with the change (every lab rebuilds).
DEFAULT_HASH = "b2f5c85d2828a7be"


@pytest.fixture
def default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(config, "COMPUTE", False)


@pytest.fixture
def compute(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(config, "COMPUTE", True)


def test_default_image_is_unchanged(default: None) -> None:
    assert image.recipe_hash() == DEFAULT_HASH
    assert image.packages() == image.PACKAGES
    assert image.chroot_setup() == image.CHROOT_SETUP
    assert image.variant() == "default"
    assert not set(image.COMPUTE_PACKAGES) & set(image.packages())
    assert "nova" not in image.chroot_setup()
    assert image.current().dir == config.CACHE_DIR / DEFAULT_HASH


def test_compute_variant(compute: None) -> None:
    assert image.recipe_hash() != DEFAULT_HASH
    assert image.current().dir.name == image.recipe_hash()
    assert image.variant() == "compute"
    # debootstrap's resolver cannot configure libvirt-daemon-system (polkitd wants
    # logind and dbus); apt in the chroot installs the compute packages instead.
    assert image.packages() == image.PACKAGES
    setup = image.chroot_setup()
    lines = setup.splitlines()
    install = next(line for line in lines if line.startswith("apt-get install"))
    for pkg in ("qemu-system-x86", "libvirt-daemon-system", "libvirt-daemon-driver-qemu",
                "libvirt-clients", "python3-libvirt", "dosfstools"):
        assert pkg in install.split()
    # No service starts in the chroot, and the image does not keep the block.
    assert lines.index("rm -f /usr/sbin/policy-rc.d") > lines.index(install)
    assert lines.index("apt-get update -q") < lines.index(install)
    assert lines[0] == "set -e"
    venv = "/opt/nova-venv"
    assert f"python3 -m venv --system-site-packages {venv}" in lines
    assert f"{venv}/bin/pip install --no-cache-dir -q 'nova==34.0.0'" in lines
    # Both venvs before apt's cleanup; the default venv exactly as in the default image.
    assert setup.startswith(image.CHROOT_SETUP.split("apt-get clean")[0])
    assert lines.index("apt-get clean") > max(i for i, line in enumerate(lines) if "venv" in line)


def test_compute_hash_follows_its_recipe(compute: None, monkeypatch: pytest.MonkeyPatch) -> None:
    before = image.recipe_hash()
    monkeypatch.setattr(image, "COMPUTE_PACKAGES", (*image.COMPUTE_PACKAGES, "genisoimage"))
    assert image.recipe_hash() != before
    monkeypatch.setattr(config, "COMPUTE", False)
    assert image.recipe_hash() == DEFAULT_HASH  # the variant's recipe never reaches it


def test_nova_pin_is_the_host_sides() -> None:
    from e2e import nova
    assert image.NOVA_REQUIREMENT == "nova==34.0.0"
    assert nova.PACKAGES[0] == image.NOVA_REQUIREMENT
    assert config.GUEST_NOVA_VENV != config.GUEST_VENV


def test_lab_compute_env(monkeypatch: pytest.MonkeyPatch) -> None:
    try:
        monkeypatch.delenv("LAB_COMPUTE", raising=False)
        assert importlib.reload(config).COMPUTE is False
        monkeypatch.setenv("LAB_COMPUTE", "1")
        assert importlib.reload(config).COMPUTE is True
    finally:
        monkeypatch.delenv("LAB_COMPUTE", raising=False)
        importlib.reload(config)


def _built(cache: Path, name: str, variant: str | None) -> Path:
    entry = cache / name
    entry.mkdir()
    ready = {"built_s": 1} | ({"variant": variant} if variant else {})
    (entry / "READY").write_text(json.dumps(ready))
    return entry


def test_prune_keeps_the_other_variant(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(config, "CACHE_DIR", tmp_path)
    old_default = _built(tmp_path, "old-default", None)  # built before variants existed
    old_compute = _built(tmp_path, "old-compute", "compute")
    new_default = _built(tmp_path, "new-default", None)
    image._prune(keep=new_default)
    assert not old_default.exists() and new_default.exists() and old_compute.exists()
    new_compute = _built(tmp_path, "new-compute", "compute")
    image._prune(keep=new_compute)
    assert not old_compute.exists() and new_compute.exists() and new_default.exists()
