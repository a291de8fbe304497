# clientbase — everything a fresh machine needs comes from here (Python 3.11 is the only prerequisite).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install demo test lint fmt clean stop docs bi bi-stop bench
SIZE ?= M

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev,bench,backtest]'
	touch $(STAMP)

install: $(STAMP)  ## create .venv and install the pinned dependencies

demo: install  ## generate a demo distributor, run the whole pipeline, print the last month
	$(BIN)/clientbase demo

# Two pytest-xdist workers (one per core of the dev machine), each with its own embedded
# PostgreSQL; a test file stays on one worker (its module fixtures are built once).
# TEST_WORKERS=0 runs in one process.
TEST_WORKERS ?= 2

test: install  ## the test suite (two workers, each on its own embedded PostgreSQL)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

# Both linters always run, so one pass shows every finding; the target fails if either does.
lint: install  ## ruff (rules in pyproject.toml) + SQLFluff, dbt templater (rules in .sqlfluff)
	@status=0; \
	$(BIN)/ruff check || status=1; \
	$(BIN)/python -m clientbase.lint || status=1; \
	exit $$status

fmt: install  ## apply the linters' safe automatic fixes (ruff --fix, sqlfluff fix), then review the diff
	@status=0; \
	$(BIN)/ruff check --fix || status=1; \
	$(BIN)/python -m clientbase.lint --fix || status=1; \
	exit $$status

docs: install  ## dbt docs (lineage) + GX Data Docs (data quality), served on http://127.0.0.1:8080
	$(BIN)/python -m clientbase.docs --serve

bi: install  ## Superset on the warehouse (own venv .venv-superset): dashboards, manager roles, screenshots; prints URL and login
	$(BIN)/clientbase bi

bench: install  ## the benchmark (BENCHMARKS.md): SIZE=S|M|L (default M), SERIES=all|sparse; JSON + plot in bench/results/
	$(BIN)/clientbase bench --size $(SIZE) $(if $(SERIES),--series $(SERIES))

bi-stop:  ## stop the Superset that `make bi` started
	$(BIN)/clientbase bi --stop

stop:  ## stop the embedded PostgreSQL of the demo
	$(BIN)/clientbase stop

clean: bi-stop stop  ## remove the demo warehouse, Superset's metadata and run artefacts (keeps .venv and .venv-superset)
	rm -rf .clientbase dbt_project/target dbt_project/logs
