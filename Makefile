# cinder-ocfs2: the two README commands are `make demo` and `make test`.
PY ?= python3
VENV ?= .venv
VPY := $(VENV)/bin/python

.PHONY: venv unit lab-test e2e test demo demo-down lint bench

$(VPY):
	$(PY) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip
	$(VPY) -m pip install -q -e '.[test]'

venv: $(VPY)

lint: venv
	$(VENV)/bin/ruff check cinder_ocfs2 lab tests bench

unit: venv
	$(VPY) -m pytest -q tests/unit

lab-test: venv
	$(VPY) -m pytest -q -m lab tests/lab

e2e: venv
	$(VPY) -m pytest -q -m lab tests/e2e

test: lint unit lab-test

demo: venv
	$(VPY) -m lab demo

demo-down: venv
	$(VPY) -m lab down
