# Two commands do all set-up on a fresh machine:
#   make demo   creates .venv, installs the locked versions, runs the real Airflow DAG on the sample county
#   make test   same set-up if needed, then the whole test suite
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(CURDIR)/$(VENV)/bin
STAMP   = $(VENV)/.installed-stamp
export PATH := $(BIN):$(PATH)
export GX_ANALYTICS_ENABLED := false
export DBT_SEND_ANONYMOUS_USAGE_STATS := false

.PHONY: demo test test-fast lint install lock bench sample contract clean

install: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	sh bin/system-packages
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/finsam demo

# Linters first: style, formatting, the layers of the package, then the dbt SQL (sqlfluff, .sqlfluff).
SQLFLUFF = $(BIN)/sqlfluff lint dbt_project/models dbt_project/macros dbt_project/tests --processes 2 --disable-progress-bar
lint: $(STAMP)
	$(BIN)/ruff check ingestion dags bench tests dbt_project/sqlfluff_dbt
	$(BIN)/ruff format --check ingestion dags bench tests dbt_project/sqlfluff_dbt
	$(BIN)/lint-imports
	$(SQLFLUFF)

# Whole test modules per worker, slowest first (tests/conftest.py MEASURED_SECONDS; xdist's own
# reordering by number of tests would start the long Airflow modules last).
test: lint
	$(BIN)/python -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder --durations=40

# Everything that needs no Airflow, no dbt build and no servers (under 2 minutes).
test-fast: $(STAMP)
	$(BIN)/ruff check ingestion dags bench tests dbt_project/sqlfluff_dbt
	$(BIN)/lint-imports
	$(SQLFLUFF)
	$(BIN)/python -m pytest -q -n 2 -m "not airflow and not dbt and not services and not browser"

bench: $(STAMP)
	$(BIN)/python bench/run_benchmark.py

sample: $(STAMP)
	$(BIN)/python data/generate_sample.py

contract: $(STAMP)
	$(BIN)/finsam contract --write

lock:
	{ printf '# Exact versions, resolved on Python 3.11 (Airflow 3.3.2 constraints cannot be fetched here).\n# Regenerate: make lock\n'; \
	  $(BIN)/python -m pip freeze --exclude-editable | grep -v '^finsam-county'; } > requirements.lock.new && mv requirements.lock.new requirements.lock

clean:
	rm -rf var
