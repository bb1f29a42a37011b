# cinder-ocfs2: the two README commands are `make demo` and `make test`.
PY ?= python3
VENV ?= .venv
VPY := $(VENV)/bin/python

.PHONY: deps venv unit lab-test e2e vm faults test demo demo-down lint bench tempest

deps:
	scripts/install-deps

# Re-installs whenever pyproject.toml changes (new dependencies reach old venvs).
$(VENV)/.installed: pyproject.toml
	test -x $(VPY) || $(PY) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip
	$(VPY) -m pip install -q -e '.[test]'
	touch $@

venv: $(VENV)/.installed

lint: venv
	$(VENV)/bin/ruff check cinder_ocfs2 lab e2e tests bench

unit: venv
	$(VPY) -m pytest -q tests/unit

# LAB_MARK picks tests: make test leaves out the recorder's own test ('record':
# python -m lab record-fixtures still works; 3 min), run by hand with make lab-test.
LAB_MARK ?= lab
lab-test: deps venv
	$(VPY) -m pytest -q -m '$(LAB_MARK)' --durations=10 tests/lab tests/guest

e2e: deps venv
	$(VPY) -m pytest -q -m lab --durations=10 tests/e2e

# Real VMs on our volumes (tests/vm, issue 13): servers from the tiny guest image on
# OCFS2 volumes, each step through the openstack CLI and checked from inside the
# guest; against the deployment (E2E_NOVA=1, the default: Nova and libvirt on the
# nodes). VM_MARK picks steps: make test runs its CI core, 'lab and vm_core' (one
# guest: boot from volume, server add/remove volume with the guest writing, an
# attached extend refused, a live migration node2 -> node1 with no write lost, the
# server deleted and its volumes kept; 7 min in the clean-clone run of 2026-12-07).
VM_MARK ?= lab
vm: deps venv
	$(VPY) -m pytest -q -s -m '$(VM_MARK)' --durations=20 tests/vm

# The fault suite (tests/faults): breaks pools, nodes and services of the deployment
# (`make demo`, or the one make test brought up) and reports data lost, orphans and
# recovery times (.lab/faults-report.md).
# FAULTS picks scenarios (pytest paths). make test runs TEST_FAULTS, the issue's CI core
# (scenarios 1, 3, 4 and 7 plus 5): the pool faults (read-only remount, vanished mount),
# a full filesystem, active-active under load and node death, node death last (it
# reboots node2). Hostile input, the interconnect partition and the peer's death (fio
# across a node's death) run in make faults.
FAULTS ?= tests/faults
TEST_FAULTS ?= tests/faults/test_pool_faults.py tests/faults/test_full_filesystem.py \
	tests/faults/test_active_active_load.py tests/faults/test_node_death.py
faults: deps venv
	$(VPY) -m pytest -q -m lab --durations=10 $(FAULTS)

# CI runs this: lint, unit, the lab tests, then the operators' scenario on real Cinder,
# tempest's CI subset, the VM scenario's core (make vm) and the fault suite against
# the same deployment (one boot, with Nova), torn down afterwards even when a stage
# failed; `make e2e` alone leaves the deployment running.
# TEST_NOVA: Nova in make test's deployment (1, the default; the lab stage boots the
# same compute image, LAB_COMPUTE). TEST_NOVA=0 leaves Nova out and the VM stage skips.
# The VM core boots one guest (2-3 min under nested emulation); the whole scenario
# (two guests, multiattach, in-use copies, QoS) is make vm after make demo.
TEST_NOVA ?= 1
TEST_VM_MARK ?= lab and vm_core
test: LAB_MARK = lab and not record
test: export E2E_NOVA = $(TEST_NOVA)
test: export LAB_COMPUTE = $(TEST_NOVA)
test: lint unit lab-test
	status=0; \
	$(MAKE) e2e || status=$$?; \
	$(MAKE) tempest TEMPEST_REGEX=$(TEST_TEMPEST_REGEX) || status=$$?; \
	$(MAKE) vm VM_MARK='$(TEST_VM_MARK)' || status=$$?; \
	$(MAKE) faults FAULTS='$(TEST_FAULTS)' || status=$$?; \
	$(MAKE) demo-down; \
	exit $$status

demo: deps venv
	$(VPY) -m e2e up

# Upstream's volume tests (tempest + cinder-tempest-plugin, own venv under .lab/) against
# the running deployment (`make demo` first). TEMPEST_REGEX picks a subset (ci: the
# CI subset make test runs, full: the default, or a regex); the subunit
# stream and a summary land in .lab/e2e/logs/tempest/.
TEMPEST_REGEX ?=
TEST_TEMPEST_REGEX ?= ci
TEMPEST_CONCURRENCY ?= 2
tempest: venv
	TEMPEST_REGEX='$(TEMPEST_REGEX)' TEMPEST_CONCURRENCY=$(TEMPEST_CONCURRENCY) $(VPY) -m e2e.tempest

# Every benchmark of bench/ on the lab in one run (bench/run_all.py), on the deployment
# (brought up, or make demo's reused); the report lands in .lab/bench/report.md.
# BENCH picks some: make bench BENCH=api,scale (api, copy, frag, cow, scale, scaleout).
# BENCH_API_ARGS go to bench_api.py; 8 GiB volumes need a lab with bigger pools:
#   LAB_DISK_SIZE=32G LAB_HEARTBEAT_THRESHOLD=91 LAB_IDLE_TIMEOUT_MS=90000 \
#     make bench BENCH_API_ARGS='--sizes 1,8 --skip backup'
# (the longer o2cb timeouts keep a TCG node that stalls under the copies from being fenced)
BENCH ?=
BENCH_API_ARGS ?=
bench: deps venv
	$(VPY) -m e2e up
	$(VPY) bench/run_all.py $(if $(BENCH),--only $(BENCH)) --api-args='$(BENCH_API_ARGS)'

demo-down: venv
	$(VPY) -m e2e down
