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
"""``python -m e2e.tempest``: upstream's volume tests against the e2e deployment.

``make tempest`` (after ``make demo``) runs this:

1. installs tempest and cinder-tempest-plugin from PyPI into their own venv
   (``.lab/tempest-venv``, ``E2E_TEMPEST_VENV``), once;
2. ``tempest init`` a workspace in ``STATE_DIR/tempest``;
3. asks the deployment (inside the netns, with the admin credentials) what
   it is: the backends' names, ``storage_protocol`` and ``vendor_name`` from
   ``get_pools?detail``, the microversion range from the API's version
   document, whether cinder-backup and glance answer; and writes
   ``etc/tempest.conf`` from ``templates/tempest.conf`` with them;
4. runs ``tempest run --regex REGEX`` inside the netns (the APIs are only
   reachable there) and keeps the subunit stream, the console output and a
   short summary (counts, failures, skip reasons, slowest tests) as
   ``STATE_DIR/logs/tempest/<time>.{subunit,console,md}`` (and ``last.md``);
   tempest's own log is ``STATE_DIR/logs/tempest/tempest.log``. (A directory of
   its own: the scenario test reads every ``logs/*.log`` for tracebacks.)

It exits non-zero when a test failed. ``discover`` and ``summarize`` are
its steps that run elsewhere: ``discover`` inside the netns with the host
venv, ``summarize`` with the tempest venv's python (python-subunit).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from e2e import clients, config, control, procs

TEMPEST = "tempest==47.0.0"
PLUGIN = "cinder-tempest-plugin==1.23.0"
VENV = Path(os.environ.get("E2E_TEMPEST_VENV", str(config.STATE_DIR.parent / "tempest-venv")))
# Every volume test of tempest and of cinder-tempest-plugin.
FULL_REGEX = r"(tempest\.api\.volume|cinder_tempest_plugin\.api\.volume)"
# The CI subset (``TEMPEST_REGEX=ci``, what ``make test`` runs): every test module that
# reaches the volume driver (create/delete, snapshots, clones, extend, backup and restore,
# manage, groups, retype/migration, types, pools, revert, volumes from images and
# backups). Backups are the suite's cost on emulated nodes, so CI keeps tempest's own
# backup module (create, restore, update) and leaves the admin backup module (export and
# import, reset status) and the plugin's backup modules (incremental chains, cross-project
# checks), which exercise cinder-backup rather than the driver, to ``make tempest``. It
# also leaves out the API-only modules (quotas, limits, QoS specs, transfers, services,
# metadata, negative argument checks).
CI_REGEX = (
    r"(tempest\.api\.volume\.(test_volumes_get|test_volumes_extend|test_volumes_clone"
    r"|test_volumes_snapshots|test_volumes_backup|test_volume_delete_cascade"
    r"|test_volumes_actions|admin\.(test_volume_manage|test_snapshot_manage"
    r"|test_multi_backend|test_volume_retype|test_volume_types|test_backends_capabilities"
    r"|test_volume_pools|test_snapshots_actions|test_volumes_actions"
    r"|test_groups|test_group_snapshots))"
    r"|cinder_tempest_plugin\.api\.volume\.(test_volume_revert"
    r"|test_create_from_image|test_volume_dependency|test_multiple_volume_from_resource))"
)
# Tests not run, each with its reason (the README's Tempest section lists them).
EXCLUDE_LIST = config.TEMPLATES / "tempest-exclude.txt"
# Emulated nodes: one backup/restore of 1 GiB over the posix driver takes minutes.
BUILD_TIMEOUT = int(os.environ.get("E2E_TEMPEST_BUILD_TIMEOUT", "900"))


def workspace() -> Path:
    return config.STATE_DIR / "tempest"


def log_dir() -> Path:
    return config.STATE_DIR / "logs" / "tempest"


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def ensure_venv() -> Path:
    marker = VENV / f".installed-{TEMPEST}-{PLUGIN}"
    if not marker.exists():
        _say(f"tempest: installing {TEMPEST} {PLUGIN} into {VENV}")
        if not (VENV / "bin" / "python").exists():
            subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        pip = [str(VENV / "bin" / "python"), "-m", "pip", "install", "-q"]
        log_dir().mkdir(parents=True, exist_ok=True)
        with (log_dir() / "pip.log").open("a") as log:
            for args in (["--upgrade", "pip"], [TEMPEST, PLUGIN]):
                if subprocess.run([*pip, *args], stdout=log, stderr=log).returncode:
                    raise SystemExit(f"tempest: pip install {' '.join(args)} failed; "
                                     f"see {log_dir() / 'pip.log'}")
        marker.write_text("")
    return VENV


def ensure_workspace() -> Path:
    ws = workspace()
    if not (ws / ".stestr.conf").exists():
        ws.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([str(VENV / "bin" / "tempest"), "init", "--name", "e2e-lab", str(ws)],
                       check=True, capture_output=True, text=True,
                       env=dict(os.environ, HOME=str(ws.parent)))
    return ws


# --- discover (inside the netns, host venv) ----------------------------------

def discover() -> dict[str, Any]:
    """What the deployment reports, read through its APIs as admin."""
    from keystoneauth1 import session
    from keystoneauth1.identity import v3

    auth = v3.Password(auth_url=config.keystone_endpoint(), username=config.ADMIN_USER,
                       password=config.ADMIN_PASSWORD, project_name=config.ADMIN_PROJECT,
                       user_domain_name="Default", project_domain_name="Default")
    sess = session.Session(auth=auth)
    project = sess.get_project_id()
    base = config.cinder_endpoint()
    versions = sess.get(f"{base.rsplit('/', 1)[0]}/", authenticated=False,
                        raise_exc=False).json()
    v3doc = next(v for v in versions["versions"] if v["id"].startswith("v3"))
    headers = {"OpenStack-API-Version": "volume 3.0"}
    pools = sess.get(f"{base}/{project}/scheduler-stats/get_pools?detail=True",
                     headers=headers).json()["pools"]
    services = sess.get(f"{base}/{project}/os-services", headers=headers).json()["services"]
    glance = sess.get_endpoint(service_type="image", interface="public")
    glance_ok = False
    try:
        glance_ok = sess.get(f"{glance}/v2/images", raise_exc=False).status_code == 200
    except Exception:  # noqa: BLE001 - glance down: tempest is told so
        pass
    caps = [p.get("capabilities", {}) for p in pools]
    return {
        "backend_names": sorted({c.get("volume_backend_name") for c in caps} - {None}),
        "storage_protocols": sorted({c.get("storage_protocol") for c in caps} - {None}),
        "vendor_names": sorted({c.get("vendor_name") for c in caps} - {None}),
        "min_microversion": v3doc["min_version"], "max_microversion": v3doc["version"],
        "backup_up": any(s["binary"] == "cinder-backup" and s["state"] == "up"
                         for s in services),
        "glance": glance_ok, "glance_endpoint": glance,
    }


def deployment_facts() -> dict[str, Any]:
    proc = procs.run([str(config.HOST_VENV / "bin" / "python"), "-m", "e2e.tempest",
                      "discover"], env={"PYTHONPATH": str(config.REPO_ROOT)}, timeout=120)
    return json.loads(proc.stdout.strip().splitlines()[-1])


IMAGE_NAME = "tempest-tiny"


def ensure_image() -> str:
    """The image tempest's volume-from-image tests use (``[compute] image_ref``).

    A tiny qcow2 made here (1 MiB of data in 64 MiB), uploaded once: a volume from it
    goes through the driver's download-and-convert path (a raw image would be reflinked).
    """
    for image in clients.cli_json(["openstack", "image", "list", "--name", IMAGE_NAME]):
        if image["Status"] == "active":
            return image["ID"]
        clients.cli(["openstack", "image", "delete", image["ID"]])
    work = workspace() / "image"
    work.mkdir(parents=True, exist_ok=True)
    raw, qcow2 = work / "tiny.raw", work / "tiny.qcow2"
    with raw.open("wb") as f:
        f.write(bytes(range(256)) * 4096)
        f.truncate(64 << 20)
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(raw), str(qcow2)],
                   check=True)
    made = clients.cli_json(["openstack", "image", "create", "--disk-format", "qcow2",
                             "--container-format", "bare", "--file", str(qcow2),
                             IMAGE_NAME], timeout=600)
    return made["id"]


def _single(values: list[str], what: str) -> str:
    if len(values) != 1:
        raise RuntimeError(f"the pools report {what} {values}; tempest takes exactly one")
    return values[0]


def write_conf(facts: dict[str, Any]) -> Path:
    backends = facts["backend_names"]
    if not backends:
        raise RuntimeError("no pools reported: is cinder-volume up? (python -m e2e status)")
    return control.render(
        "tempest.conf", workspace() / "etc" / "tempest.conf",
        log_file=log_dir() / "tempest.log",
        admin_user=config.ADMIN_USER, admin_password=config.ADMIN_PASSWORD,
        admin_project=config.ADMIN_PROJECT, keystone_uri=config.keystone_endpoint(),
        region=config.REGION, glance_available=facts["glance"],
        build_timeout=BUILD_TIMEOUT, backend_names=",".join(backends),
        storage_protocol=_single(facts["storage_protocols"], "storage_protocol"),
        vendor_name=_single(facts["vendor_names"], "vendor_name"),
        min_microversion=facts["min_microversion"],
        max_microversion=facts["max_microversion"],
        multi_backend=len(backends) > 1, backup=facts["backup_up"],
        image_ref=facts.get("image_ref", ""))


# --- summarize (tempest venv) ---------------------------------------------------

def summarize(subunit_path: Path, wall: float | None = None, top: int = 15) -> str:
    """A markdown summary of a subunit v2 stream: counts, failures, skips, slowest."""
    import subunit
    import testtools

    tests: list[dict[str, Any]] = []
    result = testtools.StreamToDict(tests.append)
    stream = subunit.ByteStreamToStreamResult(subunit_path.open("rb"), non_subunit_name="stdout")
    result.startTestRun()
    try:
        stream.run(result)
    finally:
        result.stopTestRun()
    tests = [t for t in tests if t["status"] not in ("exists", None)]
    counts = collections.Counter(
        {"success": "passed", "skip": "skipped", "xfail": "passed",
         "fail": "failed", "uxsuccess": "failed"}.get(t["status"], t["status"]) for t in tests)

    def seconds(t: dict[str, Any]) -> float:
        start, end = t["timestamps"]
        return (end - start).total_seconds() if start and end else 0.0

    def detail(t: dict[str, Any], name: str) -> str:
        content = t["details"].get(name)
        return content.as_text() if content is not None else ""

    lines = [f"# tempest: {subunit_path.name}", ""]
    lines.append(f"{counts['passed']} passed, {counts['failed']} failed, "
                 f"{counts['skipped']} skipped" + (f" in {wall:.0f} s" if wall else ""))
    failed = [t for t in tests if t["status"] in ("fail", "uxsuccess")]
    if failed:
        lines += ["", "## Failed", ""]
        for t in sorted(failed, key=lambda t: t["id"]):
            tb = detail(t, "traceback").strip().splitlines()
            lines.append(f"- `{t['id']}`: {tb[-1][:300] if tb else '(no traceback)'}")
    skips = collections.Counter(detail(t, "reason").strip() or "(no reason)"
                                for t in tests if t["status"] == "skip")
    if skips:
        lines += ["", "## Skipped, by reason", "", "| tests | reason |", "|---:|---|"]
        lines += [f"| {n} | {reason.replace('|', '/')[:200]} |"
                  for reason, n in skips.most_common()]
    ran = sorted((t for t in tests if t["status"] != "skip"), key=seconds, reverse=True)
    lines += ["", f"## Slowest {min(top, len(ran))}", "", "| s | test |", "|---:|---|"]
    lines += [f"| {seconds(t):.1f} | `{t['id'].split('[')[0]}` |" for t in ran[:top]]
    return "\n".join(lines) + "\n"


# --- run -------------------------------------------------------------------------

def run(regex: str, concurrency: int, conf_only: bool = False) -> int:
    if config.AUTH != "keystone":
        raise SystemExit("tempest needs Keystone: bring the deployment up without "
                         "E2E_AUTH=noauth")
    regex = {"ci": CI_REGEX, "full": FULL_REGEX}.get(regex, regex)
    ensure_venv()
    ws = ensure_workspace()
    facts = deployment_facts()
    if facts["glance"]:
        facts["image_ref"] = ensure_image()
    conf = write_conf(facts)
    _say(f"tempest: {conf} written: backends {facts['backend_names']}, "
         f"protocol {facts['storage_protocols']}, vendor {facts['vendor_names']}, "
         f"microversions {facts['min_microversion']}-{facts['max_microversion']}, "
         f"backup {facts['backup_up']}, glance {facts['glance']}")
    if conf_only:
        return 0
    logs = log_dir()
    logs.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    console, subunit_out, summary = (logs / f"{stamp}.{ext}"
                                     for ext in ("console", "subunit", "md"))
    tempest = str(VENV / "bin" / "tempest")
    argv = [tempest, "run", "--regex", regex, "--concurrency", str(concurrency),
            "--exclude-list", str(EXCLUDE_LIST)]
    _say(f"tempest: {' '.join(argv)} (console: {console})")
    t0 = time.monotonic()
    with console.open("w") as out:
        proc = subprocess.run(["bash", "-c", 'cd "$0" && exec "$@"', str(ws),
                               *procs.netns_argv(argv)],
                              stdout=out, stderr=subprocess.STDOUT, check=False)
    wall = time.monotonic() - t0
    with subunit_out.open("wb") as out:
        subprocess.run(["bash", "-c", 'cd "$0" && exec "$@"', str(ws),
                        str(VENV / "bin" / "stestr"), "last", "--subunit"],
                       stdout=out, check=False)
    text = subprocess.run([str(VENV / "bin" / "python"), "-m", "e2e.tempest", "summarize",
                           str(subunit_out), "--wall", f"{wall:.1f}"],
                          env=dict(os.environ, PYTHONPATH=str(config.REPO_ROOT)),
                          capture_output=True, text=True, check=True).stdout
    header = (f"regex `{regex}`, concurrency {concurrency}, tempest.conf {conf}\n"
              f"console {console}, subunit {subunit_out}\n\n")
    summary.write_text(header + text)
    (logs / "last.md").write_text(header + text)
    print(text.split("\n## Skipped")[0].split("\n## Slowest")[0])
    print(f"tempest: summary in {summary}")
    return proc.returncode


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m e2e.tempest", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command")
    r = sub.add_parser("run", help="write tempest.conf and run (the default)")
    r.add_argument("--regex", default=os.environ.get("TEMPEST_REGEX") or FULL_REGEX)
    r.add_argument("--concurrency", type=int,
                   default=int(os.environ.get("TEMPEST_CONCURRENCY") or "2"))
    r.add_argument("--conf-only", action="store_true", help="write tempest.conf, run nothing")
    sub.add_parser("discover", help="(inside the netns) print what the deployment reports")
    s = sub.add_parser("summarize", help="(tempest venv) summarize a subunit stream")
    s.add_argument("subunit", type=Path)
    s.add_argument("--wall", type=float)
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("run", "discover", "summarize", "-h", "--help"):
        argv.insert(0, "run")
    args = p.parse_args(argv)
    if args.command == "discover":
        print(json.dumps(discover()))
        return 0
    if args.command == "summarize":
        print(summarize(args.subunit, args.wall), end="")
        return 0
    return run(args.regex, args.concurrency, args.conf_only)


if __name__ == "__main__":
    sys.exit(main())
