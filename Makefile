# Two commands do everything on a fresh machine with Python 3.11+:
#   make book   create .venv, install, build and execute the whole book into _build/html
#   make test   the same install, the package tests, the strict book build, the student book, the assignments
#               and their grading tests, and nbval on the executed notebooks
#   make assignments   student notebooks and autograders under _build/assignments (solutions checked by otter)
#   make student-book  the book with every exercise solution removed, into _build/student/_build/html
#   make gpu-check  on a machine with a CUDA GPU: the GPU code checked and timed, into measurements/gpu/
#   make publish  everything that is deployed, in _build/publish: both editions, every chapter's executed notebook
#                 and the package's wheel (the GitHub workflow deploys exactly this tree); with
#                 GATEDRNN_PUBLISH_ONLY=student, the student edition and its notebooks alone
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Warnings are errors (-W), references are checked (-n), and every problem is listed before failing (--keep-going).
JB_FLAGS := -W -n --keep-going
# Executed notebooks that the build writes and nbval re-runs.
EXECUTED := _build/jupyter_execute/chapters
# A change in the package, or another profile or device, must re-execute the chapters: the execution cache is keyed
# on the notebooks alone, so it is dropped, with Sphinx's record of what it has read, whenever one of those changes.
CODE_HASH = $(shell (echo "$${GATEDRNN_PROFILE-} $${GATEDRNN_DEVICE-}"; cat code/pyproject.toml \
	$$(find code/gatedrnn -name '*.py' | sort)) | sha256sum | cut -c1-16)
export TQDM_DISABLE := 1
export PYTHONHASHSEED := 0
# One thread per notebook. The book's networks are small and gain little from more, nbval can then run two
# notebooks at once, and the build and nbval sum floating-point numbers in the same order (the thread count
# changes it), so that nbval's re-execution reproduces the build's outputs digit for digit.
export OMP_NUM_THREADS := 1

.PHONY: all install execute book student-book assignments grading grading-tests test unit nbval nbval-untimed nbval-timed clean publish published \
	published-tests lock gpu-check

all: book

$(STAMP): requirements.txt requirements.lock code/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -r requirements.txt -c requirements.lock
	touch $@

install: $(STAMP)

# requirements.lock pins every package that requirements.txt resolves to (Linux, this Python); the install above takes
# it as constraints. `make lock` refreshes it after a change of requirements.txt or code/pyproject.toml, keeping the
# pins that still fit (`make lock LOCK_ARGS=--upgrade` takes the newest of everything). Left out: the package itself
# (a constraints file holds no editable requirement) and torch's local label (+cpu), so that the same torch pin takes
# the CPU wheel here and a CUDA wheel on a GPU machine.
lock:
	tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && $(PYTHON) -m venv "$$tmp" && \
		"$$tmp/bin/python" -m pip install -q --upgrade pip pip-tools && \
		CUSTOM_COMPILE_COMMAND="make lock" "$$tmp/bin/pip-compile" --quiet --strip-extras --no-emit-index-url \
		--no-emit-find-links --unsafe-package gatedrnn $(LOCK_ARGS) --output-file requirements.lock requirements.txt
	sed -i -E 's/^(torch==[^+ ]+)\+[^ ]*/\1/' requirements.lock

_build/.code-$(CODE_HASH): $(STAMP)
	@# e3b0c442... is the hash of nothing: the command above failed, and the cache must not be trusted.
	test "$(CODE_HASH)" != e3b0c44298fc1c14
	rm -rf _build/.jupyter_cache _build/.doctrees _build/.code-*
	mkdir -p _build && touch $@

# The book's own Sphinx extensions and stylesheet shape every page, but Sphinx re-renders only pages whose sources
# changed: a change in them drops its record of what it has read (not the execution cache), so every page is redone.
EXT_HASH = $(shell cat tools/book_links.py tools/executed_notebooks.py tools/jupyter_markdown.py tools/powers_of_ten.py tools/reading_time.py \
	tools/remove_solutions.py \
	_static/*.css \
	| sha256sum | cut -c1-16)

_build/.ext-$(EXT_HASH):
	rm -rf _build/.doctrees _build/.ext-*
	mkdir -p _build && touch $@

# The instructor guide grades the built assignments, so the book needs them.
# Jupyter Book executes one notebook at a time; the chapters are first executed into its cache one per core.
execute: install $(ASSIGNMENTS) _build/.code-$(CODE_HASH) _build/.ext-$(EXT_HASH)
	$(BIN)/python tools/execute_chapters.py

book: execute
	$(BIN)/jupyter-book build . $(JB_FLAGS)
	@echo "The book is in _build/html/index.html"

# Same notebooks, same execution cache as `book`; only the exercise solutions are left out. Sphinx renders on one
# core, so `make -j2 publish` renders the two editions side by side.
student-book: execute
	rm -rf _build/student && mkdir -p _build/student
	$(BIN)/python tools/student_config.py _build/student/_config.yml
	$(BIN)/jupyter-book build . --config _build/student/_config.yml --path-output _build/student $(JB_FLAGS)
	@echo "The student book is in _build/student/_build/html/index.html"

# Built again only when an assignment, its grading code, the package or the pins change.
ASSIGNMENTS := _build/assignments/.built
$(ASSIGNMENTS): $(STAMP) $(shell find assignments code/gatedrnn -name '*.md' -o -name '*.py') code/pyproject.toml
	$(BIN)/python assignments/build.py
	touch $@

assignments: $(ASSIGNMENTS)

# Grades every reference solution and blank student notebook with `otter run`, and scans for leaks.
grading: assignments book student-book
	$(MAKE) grading-tests

grading-tests: install
	$(BIN)/python -m pytest tests/grading -W error -p no:cacheprovider

unit: install
	$(BIN)/python tools/publish.py check
	$(BIN)/python -m pytest tests --ignore=tests/grading --ignore=tests/browser --ignore=tests/publish -W error \
		-p no:cacheprovider -n 2

# Both editions as deployed, in one tree: the workflow uploads _build/publish and nothing else.
publish: book student-book
	$(BIN)/python tools/publish.py

# The published tree as a reader meets it: every page in Chromium (tests/browser), and a published notebook run in a
# fresh environment that has nothing but a Jupyter kernel (tests/publish).
published: publish
	$(MAKE) published-tests

published-tests: install
	$(BIN)/python -m pytest tests/browser tests/publish -W error -p no:cacheprovider

# nbval re-executes every built chapter, two at a time, and compares its outputs with the build's. The chapters
# whose checks time code (TIMED) keep their margins only without other work on the cores: `make test` runs them on
# their own, after the others.
TIMED := speed comparison
# An untimed chapter about as long as the two timed ones together, run beside them on the other core (one notebook
# per core at any time, as in the build): the timed ones run one after the other on one worker, this one on the
# other. It is one of the three longest chapters, so that the other two can share the cores in the untimed run
# instead of one worker running two of them after each other while the other idles.
BESIDE_TIMED := recipe
# The instructor guide's cells grade the four assignments through the autograder; nbval would grade them a second
# time for nothing the grading tests (which grade the same reference and blank notebooks) do not already check, and
# the guide is no reader's notebook (outside a clone it stops at its first cell). The build still executes it.
NOT_REEXECUTED := instructor-guide
NBVAL := PYTHONPATH=tests:tools $(BIN)/python -m pytest --nbval -p nbval_glue \
	--nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-cell-timeout=1200 -p no:cacheprovider -n 2 --dist loadfile

nbval: nbval-untimed nbval-timed

# The two longest untimed chapters go first, one to each worker (in the order given, --no-loadscope-reorder: by
# default xdist orders by cell count, which can give both to one worker); the others follow as workers free up.
NBVAL_FIRST := benchmarks claims
NBVAL_REST = $(filter-out $(NBVAL_FIRST) $(TIMED) $(BESIDE_TIMED) $(NOT_REEXECUTED),\
	$(basename $(notdir $(wildcard $(EXECUTED)/*.ipynb))))

nbval-untimed: install
	$(NBVAL) --no-loadscope-reorder $(foreach name,$(NBVAL_FIRST) $(NBVAL_REST),$(EXECUTED)/$(name).ipynb)

# xdist hands each worker two notebooks at the start, in the order given (--no-loadscope-reorder): the first timed
# chapter and the one beside them first, then the second timed chapter to the worker of the first.
nbval-timed: install
	$(NBVAL) --no-loadscope-reorder $(foreach name,$(firstword $(TIMED)) $(BESIDE_TIMED) $(wordlist 2,9,$(TIMED)),\
		$(EXECUTED)/$(name).ipynb)

# Every step keeps both cores busy: the package tests beside the assignments' build (each mostly on one core), the
# chapters executed two at a time, the two editions rendered side by side; then the grading tests, the browser tests
# and nbval's untimed chapters share the cores (none of them times anything), and the timed chapters' nbval runs
# alone at the end. The chapters, whose checks time code, execute with nothing else on the cores. Each job's output
# is printed whole when it ends (--output-sync), and the first failure fails the target.
PARALLEL := $(MAKE) --output-sync=target
test:
	$(PARALLEL) -j2 unit assignments
	$(PARALLEL) -j2 publish
	$(PARALLEL) -j3 grading-tests published-tests nbval-untimed
	$(MAKE) nbval-timed

# On a machine with a CUDA GPU: the kernels checked at sizes the CPU tests never reach, the compiled code, times
# against cuDNN and torch.compile, and the full profile's chapter times, in measurements/gpu/<device>-<date>.json
# (tools/gpu_check.py says what and how). It needs no install step: in the book's .venv where there is one, else
# the machine's python3 (on a GPU server without a registry, after `source .gpu/activate.sh`). `make test` runs its
# dry run on the CPU (tests/test_gpu_check.py).
GPU_PYTHON ?= $(if $(wildcard $(BIN)/python),$(BIN)/python,python3)
gpu-check:
	$(GPU_PYTHON) tools/gpu_check.py $(GPU_CHECK_ARGS)

clean:
	rm -rf _build
