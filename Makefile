# Two commands on a fresh machine with Python 3.11: `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench venv clean

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[all,test,dev,lightning,keras]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(PY) -m compileall -q src
	$(PY) examples/quickstart_digits.py

# bytecode first: with PYTHONDONTWRITEBYTECODE set (as on CI machines), every worker process the tests start
# would compile tunelab's sources again
test: $(STAMP)
	$(PY) -m compileall -q src
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check src
	$(VENV)/bin/mypy

bench: $(STAMP)
	$(PY) benchmarks/overhead.py --peers

clean:
	rm -rf $(VENV) build *.egg-info
