# Two commands do all set-up on a fresh machine:
#   make reproduce   # the main job: every notebook at PROFILE (default cpu) -> paper_tables/
#   make test        # unit tests + notebook regression (nbval, smoke profile) + table checks
# Both create .venv when absent and install the pinned stack from pyproject.toml into it.

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PROFILE ?= cpu
ONLY ?=
STAMP := $(VENV)/.installed-stamp
PIP := $(PY) -m pip --disable-pip-version-check -q
PYTEST_ARGS ?=

.PHONY: install reproduce test test-unit test-notebooks smoke-notebooks bench gpu-check clean-cache help

help:
	@echo "make reproduce [PROFILE=cpu|smoke|paper] [ONLY=05,06]  - run the notebooks, write paper_tables/"
	@echo "make test                                            - all tests (what CI runs)"
	@echo "make bench                                           - the benchmarks (print tables)"
	@echo "make gpu-check [GPU_CHECK_ARGS=...]                  - CUDA tests + short paper-profile trainings on a GPU"
	@echo "                                                       (< 5 min; without CUDA: one line, exit 0)"

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "installing the pinned stack into $(VENV) (first time: ~2-3 min) ..."
	@$(PIP) install --upgrade "pip<26" 2>&1 | grep -v "^WARNING: Location" || true
	@$(PIP) install -e ".[test,bench]" 2>&1 | grep -v "^WARNING: Location" || true
	@$(PY) -c "import repro, torch, mmseg, mmengine, papermill, nbval" || (echo "install failed" && exit 1)
	@$(PY) -m ipykernel install --sys-prefix --name sia-repro --display-name "Python (sia-repro)" >/dev/null
	@touch $(STAMP)

install: $(STAMP)

reproduce: install
	$(PY) -m repro reproduce --profile $(PROFILE) $(if $(ONLY),--only $(ONLY),)

# CI: unit tests, then nbval re-executes each stored notebook at its smoke defaults and compares
# marked cells, then the table checks read what those smoke runs wrote to paper_tables/smoke/.
test: install
	OMP_NUM_THREADS=2 $(PY) -m pytest tests/unit notebooks tests/notebooks -m "not slow" \
	  --nbval-lax --nbval-kernel-name sia-repro --sanitize-with tests/notebooks/sanitize.cfg \
	  -p no:cacheprovider $(PYTEST_ARGS)

test-unit: install
	$(PY) -m pytest tests/unit -m "not slow" $(PYTEST_ARGS)

test-slow: install
	$(PY) -m pytest tests/unit -m slow $(PYTEST_ARGS)

# refresh the smoke outputs stored in notebooks/ (commit them afterwards)
smoke-notebooks: install
	$(PY) -m repro reproduce --profile smoke --inplace $(if $(ONLY),--only $(ONLY),)

bench: install
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

# on a machine with a CUDA device: the CUDA tests, then PSPNet-R50 and SegFormer-b0 (method ours, paper
# profile, random init) for a few iterations on synthetic Cityscapes-layout data; prints per-iteration time,
# analysis time and peak GPU memory and writes benchmarks/results/gpu_check.{md,json}. Without CUDA it
# prints one line and exits 0. Options: python -m repro gpu-check --help
GPU_CHECK_ARGS ?=
gpu-check: install
	$(PY) -m repro gpu-check $(GPU_CHECK_ARGS)

clean-cache:
	rm -rf .cache
