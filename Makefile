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

.PHONY: demo test install lock bench sample contract clean

install: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/finsam demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python bench/run_benchmark.py

sample: $(STAMP)
	$(BIN)/python data/generate_sample.py

contract: $(STAMP)
	$(BIN)/finsam contract --write

lock:
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^finsam-county' > requirements.lock.new && mv requirements.lock.new requirements.lock

clean:
	rm -rf var
