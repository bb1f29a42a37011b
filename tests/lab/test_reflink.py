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
"""cinder_ocfs2.reflink on the real two-node OCFS2 cluster.

Our module runs on the nodes (the repo is shared over 9p at
/opt/cinder-ocfs2); checksums and ``df`` are taken on the other node.  A
second disk formatted *without* the refcount feature (``norefc``, hot-added
on first use) proves the probe and the sparse fallback, also across
filesystems.
"""

from __future__ import annotations

import ast
import textwrap
import time

import pytest

from lab import cluster, config
from lab.lab import Lab, Node

pytestmark = pytest.mark.lab

MNT = f"{config.MOUNT_ROOT}/{config.DEFAULT_LABEL}"
NOREF = "norefc"
NOREF_MNT = f"{config.MOUNT_ROOT}/{NOREF}"
MiB = 1 << 20


def py(node: Node, code: str, timeout: float = 300) -> object:
    """Run ``code`` with our package on ``node``; return the literal it prints last."""
    result = node.exec(["env", "PYTHONPATH=/opt/cinder-ocfs2", "/opt/venv/bin/python", "-c",
                        textwrap.dedent(code)], timeout=timeout)
    assert result.rc == 0, f"{node.name}: {result.stderr}{result.stdout}"
    return ast.literal_eval(result.stdout.strip().splitlines()[-1])


def sha256(node: Node, path: str) -> str:
    return node.sh(f"sha256sum {path}").split()[0]


def settle(*nodes: Node) -> None:
    """Flush and drop caches, so unlinked inodes cached on a node are released."""
    for node in nodes:
        node.sh("sync; echo 3 > /proc/sys/vm/drop_caches")


def used(node: Node, mnt: str = MNT) -> int:
    node.sh("sync")
    return int(node.sh(f"df -B1 --output=used {mnt} | tail -1").strip())


def blocks(node: Node, path: str) -> tuple[int, int]:
    """(apparent size, allocated bytes) of ``path`` as ``node`` sees it."""
    size, nblocks = node.sh(f"stat -c '%s %b' {path}").split()
    return int(size), int(nblocks) * 512


def make_volume(node: Node, path: str, mib: int = 64) -> None:
    """Random data at the start and in the middle, holes elsewhere."""
    node.sh(f"rm -f {path}; truncate -s {mib}M {path} && "
            f"dd if=/dev/urandom of={path} bs=1M count=8 conv=notrunc,fsync status=none && "
            f"dd if=/dev/urandom of={path} bs=1M seek={mib // 2} count=4 conv=notrunc,fsync "
            f"status=none")


@pytest.fixture
def workdir(node1: Node) -> str:
    d = f"{MNT}/test-reflink"
    node1.sh(f"rm -rf {d}; mkdir -p {d}")
    yield d
    node1.sh(f"rm -rf {d}")


@pytest.fixture(scope="module")
def norefcount(lab: Lab) -> str:
    """A second OCFS2 filesystem made with ``--fs-features=norefcount``, on every node."""
    node1 = lab.node("node1")
    if NOREF not in lab.state.disks:
        lab.add_disk(label=NOREF, size="1G")
    dev = lab.device(node1, NOREF)
    mounted = node1.exec(f"mountpoint -q {NOREF_MNT}").rc == 0
    if not mounted:
        features = node1.exec(["o2info", "--fs-features", dev])
        if features.rc != 0 or " refcount" in f" {features.stdout}":
            mkfs = [a for a in cluster.mkfs_args(NOREF) if not a.startswith("--fs-features")]
            node1.exec([*mkfs, "--fs-features=norefcount,xattr", dev], timeout=300, check=True)
        lab.mount(NOREF)
    assert "refcount" not in node1.sh(f"o2info --fs-features {NOREF_MNT}").split()
    return NOREF_MNT


def test_supports_reflink_on_refcount_filesystem(node1: Node, node2: Node) -> None:
    assert "refcount" in node1.sh(f"o2info --fs-features {MNT}").split()
    code = f"""
        from cinder_ocfs2 import reflink
        print(reflink.supports_reflink({MNT!r}))
    """
    assert py(node1, code) is True
    assert py(node2, code) is True
    assert node1.sh(f"ls -A {MNT} | grep '^.tmp-' || true") == ""


def test_clone_on_node1_reads_identically_on_node2(node1: Node, node2: Node,
                                                    workdir: str) -> None:
    vol, snap = f"{workdir}/volume-a", f"{workdir}/snapshot-a"
    make_volume(node1, vol)
    out = py(node1, f"""
        import time
        from cinder_ocfs2 import reflink
        t = time.monotonic()
        reflink.clone_atomic({vol!r}, {snap!r})
        print(time.monotonic() - t)
    """)
    assert out < 5, out
    assert sha256(node2, snap) == sha256(node1, vol)
    assert blocks(node2, snap)[0] == 64 * MiB
    # the holes are still holes: only the 12 MiB written are allocated
    assert blocks(node2, snap)[1] < 16 * MiB


def test_clones_share_space(node1: Node, node2: Node, workdir: str) -> None:
    vol = f"{workdir}/volume-b"
    node1.sh(f"dd if=/dev/urandom of={vol} bs=1M count=64 conv=fsync status=none")
    before = used(node2)
    methods = py(node1, f"""
        from cinder_ocfs2 import reflink
        print([reflink.copy({vol!r}, {workdir!r} + f"/clone-{{i}}") for i in range(4)])
    """)
    assert methods == ["reflink"] * 4
    grew = used(node2) - before
    # four full copies would need 256 MiB; shared extents need only metadata
    assert grew < 4 * MiB, grew
    assert sha256(node2, f"{workdir}/clone-3") == sha256(node1, vol)


def test_snapshot_is_point_in_time_while_volume_is_written(node1: Node, node2: Node,
                                                           workdir: str) -> None:
    """Copy-on-write: writes to the volume after the snapshot never reach it."""
    vol, snap = f"{workdir}/volume-c", f"{workdir}/snapshot-c"
    node1.sh(f"dd if=/dev/urandom of={vol} bs=1M count=16 conv=fsync status=none")
    before = sha256(node1, vol)
    py(node1, f"""
        from cinder_ocfs2 import reflink
        print(reflink.copy({vol!r}, {snap!r}, allow_fallback=False) == "reflink")
    """)
    node2.sh(f"dd if=/dev/urandom of={vol} bs=1M count=2 seek=3 conv=notrunc,fsync status=none")
    assert sha256(node1, vol) != before
    assert sha256(node1, snap) == before
    assert sha256(node2, snap) == before


def test_snapshot_of_volume_in_use_on_other_node(node1: Node, node2: Node,
                                                 workdir: str) -> None:
    """node2 keeps writing ordered blocks; each snapshot on node1 is a clean prefix."""
    vol = f"{workdir}/volume-busy"
    node1.sh(f"truncate -s 8M {vol}")
    writer = node2.spawn(["/opt/venv/bin/python", "-c", textwrap.dedent(f"""
        import os, time
        fd = os.open({vol!r}, os.O_WRONLY)
        for i in range(128):
            os.pwrite(fd, bytes([i + 1]) * 65536, i * 65536)
            os.fsync(fd)
            time.sleep(0.05)
        os.close(fd)
    """)])
    try:
        states = py(node1, f"""
            import time
            from cinder_ocfs2 import reflink
            states = []
            for n in range(8):
                snap = {workdir!r} + f"/snap-busy-{{n}}"
                reflink.clone_atomic({vol!r}, snap)
                data = open(snap, "rb").read()
                chunks = [data[i:i + 65536] for i in range(0, len(data), 65536)]
                filled = 0
                while filled < len(chunks) and chunks[filled] == bytes([filled + 1]) * 65536:
                    filled += 1
                clean = all(c == bytes(65536) for c in chunks[filled:])
                states.append([filled, clean])
                time.sleep(0.3)
            print(states)
        """, timeout=600)
    finally:
        node2.exec(f"kill {writer} 2>/dev/null; true")
    print(f"\nsnapshots of a volume being written on node2 (blocks filled, rest zero): {states}")
    assert all(clean for _, clean in states), states
    assert [f for f, _ in states] == sorted(f for f, _ in states), states
    assert len({f for f, _ in states if 0 < f < 128}) >= 2, states  # caught it mid-write


def test_delete_original_leaves_clone_and_frees_only_unshared(node1: Node, node2: Node,
                                                              workdir: str) -> None:
    vol, clone = f"{workdir}/volume-d", f"{workdir}/clone-d"
    node1.sh(f"dd if=/dev/urandom of={vol} bs=1M count=64 conv=fsync status=none")
    digest = sha256(node1, vol)
    assert py(node1, f"""
        from cinder_ocfs2 import reflink
        print(repr(reflink.copy({vol!r}, {clone!r})))
    """) == "reflink"
    settle(node1, node2)
    base = used(node1)
    node1.sh(f"rm {vol}")
    settle(node1, node2)
    freed_by_original = base - used(node1)
    assert sha256(node2, clone) == digest
    assert sha256(node1, clone) == digest
    assert freed_by_original < 4 * MiB, freed_by_original  # extents still used by the clone
    node2.sh(f"rm {clone}")
    # An inode another node still caches is freed once that node lets go of it.
    deadline = time.monotonic() + 60
    while True:
        settle(node1, node2)
        freed = base - used(node1)
        if freed > 60 * MiB or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert freed > 60 * MiB, freed  # last owner gone: the space comes back


def test_revert_renames_snapshot_copy_over_volume(node1: Node, node2: Node,
                                                  workdir: str) -> None:
    vol, snap = f"{workdir}/volume-e", f"{workdir}/snapshot-e"
    make_volume(node1, vol, mib=32)
    original = sha256(node1, vol)
    py(node1, f"""
        from cinder_ocfs2 import reflink
        reflink.clone_atomic({vol!r}, {snap!r})
        print(1)
    """)
    node2.sh(f"dd if=/dev/urandom of={vol} bs=1M count=1 conv=notrunc,fsync status=none")
    assert sha256(node1, vol) != original
    py(node2, f"""
        from cinder_ocfs2 import reflink
        reflink.clone_atomic({snap!r}, {vol!r})
        print(1)
    """)
    assert sha256(node1, vol) == original
    assert sha256(node1, snap) == original
    assert sorted(node1.sh(f"ls -A {workdir}").split()) == ["snapshot-e", "volume-e"]


def test_norefcount_filesystem_falls_back_to_sparse_copy(node1: Node, node2: Node,
                                                         norefcount: str) -> None:
    d = f"{norefcount}/test-reflink"
    node1.sh(f"rm -rf {d}; mkdir -p {d}")
    try:
        make_volume(node1, f"{d}/volume-f")
        out = py(node1, f"""
            from cinder_ocfs2 import reflink
            try:
                reflink.clone({d!r} + "/volume-f", {d!r} + "/x")
                err = None
            except reflink.ReflinkUnsupported as exc:
                err = str(exc)
            print([reflink.supports_reflink({d!r}), err,
                   reflink.copy({d!r} + "/volume-f", {d!r} + "/clone-f", size=96 << 20)])
        """)
        supported, err, method = out
        assert supported is False
        assert "tunefs.ocfs2 --fs-features=refcount" in err
        assert method == "sparse"
        src_digest = sha256(node1, f"{d}/volume-f")
        node2.sh(f"truncate -s 96M {d}/expected && dd if={d}/volume-f of={d}/expected "
                 f"conv=notrunc,fsync status=none")
        assert sha256(node2, f"{d}/clone-f") == sha256(node2, f"{d}/expected")
        size, allocated = blocks(node2, f"{d}/clone-f")
        assert size == 96 * MiB and allocated < 16 * MiB, (size, allocated)
        assert src_digest == sha256(node2, f"{d}/volume-f")
    finally:
        node1.sh(f"rm -rf {d}")


def test_copy_across_filesystems_is_sparse_and_keeps_holes(node1: Node, node2: Node,
                                                           norefcount: str,
                                                           workdir: str) -> None:
    src, dst = f"{workdir}/volume-g", f"{norefcount}/volume-g"
    make_volume(node1, src)
    try:
        out = py(node1, f"""
            from cinder_ocfs2 import reflink
            try:
                reflink.clone({src!r}, {dst!r})
                cross = None
            except reflink.ReflinkUnsupported as exc:
                cross = exc.cross_filesystem
            print([cross, reflink.copy({src!r}, {dst!r})])
        """)
        assert out == [True, "sparse"]
        assert sha256(node2, dst) == sha256(node1, src)
        size, allocated = blocks(node2, dst)
        assert size == 64 * MiB and allocated < 16 * MiB, (size, allocated)
    finally:
        node1.sh(f"rm -f {dst}")


def test_manage_existing_file_on_the_shared_filesystem(node1: Node, node2: Node,
                                                       workdir: str) -> None:
    """cinder_ocfs2.manage on OCFS2: listing and adopting a file node2 left there."""
    node2.sh(f"mkdir -p {workdir}/imports && cd {workdir} && "
             f"dd if=/dev/urandom of=imports/legacy.img bs=1M count=3 conv=fsync status=none && "
             f"ln -s imports/legacy.img link.img && "
             f"qemu-img create -q -f qcow2 old.qcow2 16M && "
             f"truncate -s 1M volume-11111111-2222-3333-4444-555555555555")
    digest = sha256(node2, f"{workdir}/imports/legacy.img")
    out = py(node1, f"""
        from cinder_ocfs2 import manage
        entries = manage.list_manageable({workdir!r},
                                         {{"volume-11111111-2222-3333-4444-555555555555": "v1"}})
        listing = {{e["reference"]["source-name"]: e["reason_not_safe"] for e in entries}}
        errors = []
        for bad in ("link.img", "imports", "../test-reflink/old.qcow2", "/etc/passwd"):
            try:
                manage.resolve_source({workdir!r}, bad)
            except manage.ManageError as exc:
                errors.append(str(exc))
        size = manage.adopt({workdir!r}, "imports/legacy.img",
                            {workdir!r} + "/volume-adopted", mode=0o660)
        print(repr([listing, errors, size]))
    """)
    listing, errors, size = out
    assert listing["volume-11111111-2222-3333-4444-555555555555"] == "already managed"
    assert "symbolic link" in listing["link.img"]
    assert "qcow2" in listing["old.qcow2"]
    assert "imports" not in listing  # directories are not listed
    assert len(errors) == 4 and "symbolic link" in errors[0] and "directory" in errors[1]
    assert "'..'" in errors[2] and "outside the pool" in errors[3]
    assert size == 1
    assert node2.sh(f"stat -c '%s %a' {workdir}/volume-adopted").split() == [str(1 << 30),
                                                                            "660"]
    assert node2.exec(f"test -e {workdir}/imports/legacy.img").rc != 0
    assert node2.sh(f"head -c 3M {workdir}/volume-adopted | sha256sum").split()[0] == digest
