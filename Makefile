# make demo | make test | make ui | make e2e | make bench -- each sets up .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
UI_PORT ?= 3000
E2E_PORT ?= 3333
export DAGSTER_HOME := $(CURDIR)/data/dagster_home
export GX_ANALYTICS_ENABLED := False
export DAGSTER_DISABLE_TELEMETRY := 1

.PHONY: install demo demo-live test ui e2e instance clean bench-quality bench-indices bench bench-quick bench-backfill

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

instance: $(STAMP)
	$(BIN)/python -c "from dominance_pipeline.instance import ensure_dagster_home, instance_status; print(instance_status(ensure_dagster_home()))"

demo: instance
	$(BIN)/dominance-pipeline materialize --month 2026-05

# The live path end to end, offline: a local Hub server replays the bundled 2026-05 sample as the listing
# it would have served on 2026-06-05 (--as-of sets its clock, which dates the snapshot), on a free port,
# with one 429 and one 503 burst on the way; stopped when the run ends, whatever its outcome.
DEMO_LIVE_AS_OF ?= 2026-06-05T00:00:00Z
demo-live: instance
	@set -e; ready=$$(mktemp -u); \
	$(BIN)/dominance-pipeline hub-server --port 0 --ready-file $$ready --page-size 500 \
	    --snapshot data/sample/hub_stats_2026-05.parquet --as-of $(DEMO_LIVE_AS_OF) \
	    --fault 429:after=2,times=1 --fault 5xx:after=5,burst=2,times=1 & pid=$$!; \
	trap 'kill $$pid 2>/dev/null; wait $$pid 2>/dev/null; rm -f $$ready' EXIT; \
	for i in $$(seq 100); do [ -s $$ready ] && break; kill -0 $$pid 2>/dev/null || exit 1; sleep 0.1; done; \
	[ -s $$ready ] || { echo "hub-server did not start" >&2; exit 1; }; \
	NO_PROXY=127.0.0.1,localhost,$$NO_PROXY $(BIN)/dominance-pipeline materialize --month 2026-05 --source live --endpoint $$(cat $$ready)

test: $(STAMP)
	$(BIN)/python -m pytest

ui: instance
	$(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p $(UI_PORT)

# The UI in a real browser (e2e/ui_e2e.py): dagster dev on 127.0.0.1:$(E2E_PORT) with its own instance under
# data/e2e/run, Debian's headless chromium + chromedriver (installed here when missing), screenshots in data/e2e/.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
e2e: $(STAMP)
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	    echo "installing chromium and chromium-driver (apt)"; \
	    $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium chromium-driver >/dev/null; }
	@$(BIN)/python -c "import selenium" 2>/dev/null || $(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev,e2e]'
	$(BIN)/python e2e/ui_e2e.py --port $(E2E_PORT)

bench-quality: $(STAMP)
	$(BIN)/python bench/quality_gates.py

bench-indices: $(STAMP)
	$(BIN)/python bench/bench_indices.py

# Benchmarks on a synthetic Hub (bench/): figures and PASS/MISS against issue 7's targets, never a failure.
bench: $(STAMP)
	$(BIN)/python bench/bench_pipeline.py

bench-quick: $(STAMP)
	$(BIN)/python bench/bench_pipeline.py --quick

bench-backfill: $(STAMP)
	$(BIN)/python bench/bench_backfill.py

clean:
	rm -rf data/warehouse data/dagster_home data/e2e
