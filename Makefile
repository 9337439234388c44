# The two commands of the README: `make demo` and `make test`. Everything is set up from nothing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-dev
BASE_STAMP := $(VENV)/.installed

.PHONY: demo test lint bench bench-peers clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# The demo needs the package alone; the tests need every extra (Ray, OpenSpiel, cvxpy, ...).
$(BASE_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e .
	touch $(BASE_STAMP)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP) $(BASE_STAMP)

demo: $(BASE_STAMP)
	$(VENV)/bin/stackelberg-rl demo

lint: $(STAMP)
	$(PY) -m ruff check src tests benchmarks examples
	$(PY) -m ruff format --check src tests benchmarks examples

# Two test processes, each taking whole files (a file's fixtures, its Ray cluster, stay in one).
# Bytecode is cached even where the environment says not to (PYTHONDONTWRITEBYTECODE): the
# suite starts Python processes (commands, workers) some seventy times, each compiling the package.
test: lint
	env -u PYTHONDONTWRITEBYTECODE $(PY) -m pytest -q -n 2 --dist loadfile

# The learner and planner, then sweeps (one core, every core, a local Ray), then checkpoints.
bench: $(STAMP)
	$(VENV)/bin/stackelberg-rl bench
	$(VENV)/bin/stackelberg-rl bench --sweep
	$(PY) benchmarks/bench_checkpoint.py --repeats 5

# Peers to compare against, in their own venv: never dependencies of the package.
# Extra arguments for the script: make bench-peers PEERS_ARGS="--episodes 100"
PEERS_VENV := .venv-peers
PEERS_PY := $(PEERS_VENV)/bin/python
PEERS_STAMP := $(PEERS_VENV)/.installed-peers
PEERS_PKGS := rlberry-scool==0.7.3 rlberry==0.7.3 gymnasium==0.29.1 numba==0.68.1 numpy==2.4.6
PEERS_ARGS ?=

$(PEERS_STAMP):
	test -x $(PEERS_PY) || $(PYTHON) -m venv $(PEERS_VENV)
	$(PEERS_PY) -m pip install --quiet --upgrade pip
	$(PEERS_PY) -m pip install --quiet $(PEERS_PKGS)
	touch $(PEERS_STAMP)

bench-peers: $(PEERS_STAMP)
	$(PEERS_PY) benchmarks/peers/rlberry_lsvi.py --json benchmarks/peers/results.json $(PEERS_ARGS)

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .ruff_cache .hypothesis
