# Two commands: `make demo` and `make test`. Each creates its own virtual environment.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# A second environment with the other SDK major (openai 2.x on httpx), for the SDK-facing tests.
VENV2  ?= .venv-sdk2
BIN2   := $(VENV2)/bin
# A third with the last openai 1.x (httpx), which many Assistants-era libraries pin.
VENV1  ?= .venv-sdk1
BIN1   := $(VENV1)/bin

.PHONY: compiled demo test lint types pytest test-sdk1 test-sdk2 test-slow bench diagrams clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

$(BIN2)/python:
	$(PYTHON) -m venv $(VENV2)
	$(BIN2)/python -m pip install -q --upgrade pip

$(VENV2)/.installed: pyproject.toml | $(BIN2)/python
	$(BIN2)/python -m pip install -q -e '.[test]' 'openai>=2,<3'
	touch $@

$(BIN1)/python:
	$(PYTHON) -m venv $(VENV1)
	$(BIN1)/python -m pip install -q --upgrade pip

$(VENV1)/.installed: pyproject.toml | $(BIN1)/python
	$(BIN1)/python -m pip install -q -e '.[test]' 'openai>=1.21,<2'
	touch $@

# The checker's hot modules compiled with mypyc, in place (plain Python where that fails), again
# whenever a source changed (compiled code knows the types of the modules it imports).
HOT := $(shell find runmodel conformance -name '*.py')

$(VENV)/.compiled: $(HOT) tools/compile.py | $(VENV)/.installed
	$(BIN)/python tools/compile.py
	touch $@

compiled: $(VENV)/.compiled

demo: $(VENV)/.installed
	$(BIN)/runmodel demo

diagrams: $(VENV)/.installed
	$(BIN)/runmodel diagram

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types: $(VENV)/.installed
	$(BIN)/mypy

pytest: $(VENV)/.installed $(VENV)/.compiled
	$(BIN)/pytest -q -rs -m "not slow"

test-slow: $(VENV)/.installed $(VENV)/.compiled
	$(BIN)/pytest -q -rs -m slow

# The other SDK majors run the whole fast suite; in CI with fewer examples per property
# (profile ci-sdk: derandomized like ci), since the main environment already searches deeper.
SDK_PROFILE ?= $(if $(CI),ci-sdk,dev)

test-sdk2: $(VENV2)/.installed $(VENV)/.compiled
	HYPOTHESIS_PROFILE=$(SDK_PROFILE) $(BIN2)/pytest -q -rs -m "not slow"

test-sdk1: $(VENV1)/.installed $(VENV)/.compiled
	HYPOTHESIS_PROFILE=$(SDK_PROFILE) $(BIN1)/pytest -q -rs -m "not slow"

test: lint types pytest test-sdk2 test-sdk1

# `make bench`: one table of ratios. A third environment (openai 2.x with openai-responses, the mock
# the emulator is compared with) keeps that mock's pytest plugin out of the test environments; if it
# cannot be installed, that row of the table says why.
VENVB  ?= .venv-bench
BINB   := $(VENVB)/bin

$(BINB)/python:
	$(PYTHON) -m venv $(VENVB)
	$(BINB)/python -m pip install -q --upgrade pip

$(VENVB)/.installed: pyproject.toml | $(BINB)/python
	$(BINB)/python -m pip install -q -e . 'openai>=2,<3'
	$(BINB)/python -m pip install -q 'openai-responses' 'openai>=2,<3' \
		|| echo "openai-responses could not be installed: the bench reports it as not measured"
	touch $@

bench: $(VENV)/.installed $(VENV)/.compiled $(VENVB)/.installed
	$(BIN)/python bench/run_all.py --sdk2-python $(BINB)/python

clean:
	rm -rf $(VENV) $(VENV1) $(VENV2) $(VENVB) build *.egg-info .mypy_cache .ruff_cache .hypothesis
	find conformance -name '*.so' -delete
