# The two quick-start commands (README): `make run` and `make test`.
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: run test lint bench clean

run:
	./scripts/bootstrap.sh gui,test
	$(PY) main_gui_integrated.py --demo

test:
	./scripts/bootstrap.sh gui,test
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q

lint:
	$(VENV)/bin/ruff check .

bench:
	./scripts/bootstrap.sh gui,test
	$(PY) -m bench

clean:
	rm -rf $(VENV) .pytest_cache build dist
