# The course's two commands: `make lab` opens it, `make test` checks it.
# Both create .venv and install everything on first use; later runs are quick no-ops.
#
#   make setup      .venv with nblib and its test tools (done by every target that needs it)
#   make lab        JupyterLab on notebooks/00_start_here.ipynb
#   make present    the lessons in Voila, code hidden and widgets live (make present LESSON=03: one lesson)
#   make test       everything CI runs: unit, notebooks, colab, portability, e2e (two at a time where they can)
#   make unit       pytest tests (unit, property and static notebook checks; not the browser test)
#   make notebooks  execute every notebook with nbval-lax in .venv; every lesson claim must hold
#   make portability  unit tests and notebooks again with ATEN_CPU_CAPABILITY=default: PyTorch's
#                   plain (non-vectorised) CPU kernels, i.e. as on another CPU; claims must still hold
#   make e2e        JupyterLab in a real browser (Debian chromium): run all cells, move sliders;
#                   and one lesson presented by Voila (no code shown, a slider moves its figure)
#   make colab      execute every notebook with nbval-lax in .venv-colab (Colab's ipywidgets 7.7.1,
#                   matplotlib 3.10.0); make colab-env only builds that environment
#   make figures    the README figures in docs/figures/, drawn by nblib's own plot functions
#   make stamp      rewrite each notebook's Colab cell and badge from [project.urls] Repository
#   make bench      the speed benchmarks (benchmarks/run_all.py)
#   make results    the sweep results lesson 6 loads (data/results/; only the missing runs)
#   make handouts   the student version of every lesson in handouts/: solutions removed, outputs
#                   cleared (make handouts KEEP_OUTPUTS=1 keeps them)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
KERNEL := nblib
PYTEST_FLAGS ?= -q -p no:cacheprovider
# pip's output goes to a log that is shown only when pip fails (quiet CI logs)
QUIET_PIP = > $(1)/pip.log 2>&1 || { cat $(1)/pip.log; exit 1; }

# Colab's environment: ipywidgets 7.7.1 and the oldest matplotlib the course supports (what Colab
# ships); torch keeps the pin of pyproject.toml as the CPU build ("+cpu": PyPI has no such file, so
# pip can never fall back to a CUDA build; it comes from pip's find-links, or set
# TORCH_INDEX="--extra-index-url https://download.pytorch.org/whl/cpu").
COLAB_VENV   := .venv-colab
COLAB_BIN    := $(COLAB_VENV)/bin
COLAB_STAMP  := $(COLAB_VENV)/.installed
COLAB_PINS   := ipywidgets==7.7.1 matplotlib==3.10.0
TORCH_PIN    := $(shell sed -n 's/^ *"\(torch==[^"]*\)".*/\1/p' pyproject.toml)+cpu
TORCH_INDEX  ?=

.PHONY: lab present test unit notebooks portability e2e colab colab-env figures stamp bench execute results handouts setup clean-venv

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip $(call QUIET_PIP,$(VENV))
	$(BIN)/python -m pip install -q -e ".[test,cluster,present]" $(call QUIET_PIP,$(VENV))
	$(BIN)/python -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python (nblib)"
	touch $(STAMP)

setup: $(STAMP)

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/00_start_here.ipynb

# The presentation view (tools/present.py): Voila on the notebooks folder, or on LESSON (a number,
# name or path); it runs the lesson when its page opens. PORT=8870 picks the port.
present: $(STAMP)
	$(BIN)/python tools/present.py $(LESSON) $(if $(PORT),--port $(PORT))

# A test stage runs its CMD and says how long it took: "== make unit: passed in 42 s".
TIMED = start=$$(date +%s); echo "== make $@: $(CMD)"; $(CMD); rc=$$?; \
	echo "== make $@: $$([ $$rc = 0 ] && echo passed || echo FAILED) in $$(( $$(date +%s) - start )) s"; exit $$rc

unit: CMD = $(BIN)/python -m pytest tests --ignore=tests/e2e $(PYTEST_FLAGS)
unit: $(STAMP)
	@$(TIMED)

# Notebook runs check the lessons' claims strictly: a claim that does not hold fails its cell.
STRICT := NBLIB_STRICT_CLAIMS=1
NBVAL  := -m pytest --nbval-lax --nbval-current-env notebooks $(PYTEST_FLAGS)

notebooks: CMD = $(STRICT) $(BIN)/python $(NBVAL)
notebooks: $(STAMP)
	@$(TIMED)

# Another CPU, imitated: ATEN_CPU_CAPABILITY=default makes PyTorch use its plain kernels instead of
# this CPU's AVX2/AVX-512 ones, so floating-point results differ in their last bits and trained
# numbers drift as they would on a student's laptop. Unit tests and every lesson's claims must hold.
OTHER_CPU := ATEN_CPU_CAPABILITY=default
CAPABILITY := -c 'import torch; print(torch.backends.cpu.get_cpu_capability())'
portability: CMD = $(OTHER_CPU) $(BIN)/python $(CAPABILITY) && $(OTHER_CPU) $(BIN)/python -m pytest tests \
	--ignore=tests/e2e $(PYTEST_FLAGS) && $(OTHER_CPU) $(STRICT) $(BIN)/python $(NBVAL)
portability: $(STAMP)
	@$(TIMED)

# One JupyterLab server, one browser, notebooks in sequence; then one lesson in Voila as make present
# serves it (~30 s: Voila runs the lesson); screenshots in test-output/e2e/.
# Skips with a message when no chromium is installed (fails instead when CI=true).
e2e: CMD = $(BIN)/python -m pytest tests/e2e $(PYTEST_FLAGS) -rs
e2e: $(STAMP)
	@$(BIN)/python -c "import playwright" 2>/dev/null || \
	  $(BIN)/python -m pip install -q playwright $(call QUIET_PIP,$(VENV))
	@$(TIMED)

$(COLAB_STAMP): pyproject.toml Makefile
	test -x $(COLAB_BIN)/python || $(PYTHON) -m venv $(COLAB_VENV)
	$(COLAB_BIN)/python -m pip install -q --upgrade pip $(call QUIET_PIP,$(COLAB_VENV))
	$(COLAB_BIN)/python -m pip install -q -e ".[test]" $(COLAB_PINS) "$(TORCH_PIN)" $(TORCH_INDEX) $(call QUIET_PIP,$(COLAB_VENV))
	$(COLAB_BIN)/python -c "import torch, ipywidgets, matplotlib; \
	  assert torch.version.cuda is None, 'the Colab test env must use the CPU torch build'; \
	  print('colab env: torch', torch.__version__, 'ipywidgets', ipywidgets.__version__, 'matplotlib', matplotlib.__version__)"
	touch $(COLAB_STAMP)

colab-env: $(COLAB_STAMP)

# nblib goes into .venv-colab the way the notebooks' Colab cell installs it: a regular (not editable)
# install of the repository's files (`pip install --no-deps "nblib @ git+<Repository>"`), so a
# notebook that needs a file the package does not ship fails here as it would on Colab.
COLAB_SRC := $(COLAB_VENV)/src
colab: CMD = $(STRICT) $(COLAB_BIN)/python $(NBVAL)
colab: $(COLAB_STAMP)
	@rm -rf $(COLAB_SRC) && mkdir -p $(COLAB_SRC)
	@git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - | tar -xf - -C $(COLAB_SRC)
	@$(COLAB_BIN)/python -m pip install -q --no-deps --force-reinstall $(COLAB_SRC) $(call QUIET_PIP,$(COLAB_VENV))
	@$(TIMED)

figures: $(STAMP)
	$(BIN)/python tools/readme_figures.py

stamp: $(STAMP)
	$(BIN)/python tools/stamp_colab.py

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

# re-execute every lesson in place (stored outputs match the code again) and time it: every model
# trained afresh (lesson cache off), every claim checked strictly
execute: $(STAMP)
	$(STRICT) NBLIB_LESSON_CACHE=off $(BIN)/python benchmarks/bench_notebooks.py --inplace

# the stored sweep results lessons 3 and 6 load (data/results/; computes only the missing runs), and their
# bundles data/results/<grid>.json.gz (the package ships those; a test checks they match the folders)
results: $(STAMP)
	NBLIB_DEVICE=cpu nice $(BIN)/python -m nblib.sweep digits-classroom --engine vmap --stack-by cell --threads 1 --bundle
	NBLIB_DEVICE=cpu nice $(BIN)/python -m nblib.sweep mnist1d-classroom --threads 1 --workers 2 --bundle
	NBLIB_DEVICE=cpu nice $(BIN)/python -m nblib.sweep mnist1d-gce-q --threads 1 --workers 2 --bundle

# The student handouts (tools/handout.py, standard library only: no .venv needed)
HANDOUTS := handouts
handouts:
	$(PYTHON) tools/handout.py --out $(HANDOUTS) $(if $(KEEP_OUTPUTS),--keep-outputs)

# Everything CI runs. Notebook cells train on one thread, so on a 2-core machine two stages run side
# by side (output grouped per stage): the unit tests while the Colab env installs, then the nbval
# runs of both environments, then the portability stage beside the browser test.
test: $(STAMP)
	@start=$$(date +%s); \
	$(MAKE) --no-print-directory -j2 -O unit colab-env && \
	$(MAKE) --no-print-directory -j2 -O notebooks colab && \
	$(MAKE) --no-print-directory -j2 -O portability e2e; rc=$$?; \
	echo "== make test: $$([ $$rc = 0 ] && echo passed || echo FAILED) in $$(( $$(date +%s) - start )) s"; exit $$rc

clean-venv:
	rm -rf $(VENV) $(COLAB_VENV)
