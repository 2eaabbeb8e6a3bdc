# The two quick-start commands (README): `make run` and `make test`.
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: run test lint bench soak clean build build-onedir build-dcdc-disabled

run:
	./scripts/bootstrap.sh gui,test
	$(PY) main_gui_integrated.py --demo

test:
	./scripts/bootstrap.sh gui,test
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q

lint:
	./scripts/bootstrap.sh gui,test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m mypy

bench:
	./scripts/bootstrap.sh gui,test
	$(PY) -m bench

# A day of plant time in about six minutes, with faults on a schedule; one PASS/FAIL line.
soak:
	./scripts/bootstrap.sh gui,test
	$(PY) -m bench.soak

# PMS_GUI_Application with pms.spec (the Windows builds are build_normal.bat / build_dcdc_disabled.bat)
build:
	./scripts/build.sh

build-onedir:
	./scripts/build.sh --onedir

build-dcdc-disabled:
	./scripts/build.sh --dcdc-disabled

clean:
	rm -rf $(VENV) .pytest_cache build dist
