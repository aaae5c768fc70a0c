# Two set-up commands, both from a fresh clone:
#   make demo   install into .venv and run the main job on the embedded real data
#   make test   install into .venv and run the test suite
# torch==2.13.0 is installed first, on its own: pip takes the local CPU build,
# and every later requirement (torch>=2.2) is then already satisfied.

VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
STAMP := $(VENV)/.chromtools-installed
OUT ?= demo_output

.PHONY: install demo test bench lint docs clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m chromtools demo --out $(OUT)

test: $(STAMP)
	$(PY) -m pytest -n 2 -q

lint: $(STAMP)
	$(VENV)/bin/ruff check chromtools tests benchmarks docs tutorials

bench: $(STAMP)
	$(PY) -m pip install --quiet -e '.[bench]'
	$(PY) benchmarks/read_bigwigs.py
	$(PY) benchmarks/train_throughput.py
	$(PY) benchmarks/accuracy.py
	$(PY) benchmarks/transfer.py
	$(PY) benchmarks/interpret.py
	$(PY) benchmarks/intervals.py

docs: $(STAMP)
	$(PY) -m pip install --quiet -e '.[docs]'
	$(PY) -m sphinx -W --keep-going -b html docs docs/_build/html

clean:
	rm -rf $(OUT) .pytest_cache
