# make demo | make test | make ui | make bench -- each sets up .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
UI_PORT ?= 3000
export DAGSTER_HOME := $(CURDIR)/data/dagster_home
export GX_ANALYTICS_ENABLED := False
export DAGSTER_DISABLE_TELEMETRY := 1

.PHONY: install demo test ui instance clean bench bench-quick bench-backfill

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

instance: $(STAMP)
	$(BIN)/python -c "from dominance_pipeline.instance import ensure_dagster_home; print('DAGSTER_HOME', ensure_dagster_home())"

demo: instance
	$(BIN)/dominance-pipeline materialize --month 2026-05

test: $(STAMP)
	$(BIN)/python -m pytest

ui: instance
	$(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p $(UI_PORT)

# Benchmarks on a synthetic Hub (bench/): figures and PASS/MISS against issue 7's targets, never a failure.
bench: $(STAMP)
	$(BIN)/python bench/bench_pipeline.py

bench-quick: $(STAMP)
	$(BIN)/python bench/bench_pipeline.py --quick

bench-backfill: $(STAMP)
	$(BIN)/python bench/bench_backfill.py

clean:
	rm -rf data/warehouse data/dagster_home
