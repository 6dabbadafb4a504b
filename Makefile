# The two commands: `make demo` and `make test`. Both set everything up themselves.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-spark reliability bench bench-spark browser lint setup db-up db-down docs clean help

help:
	@echo "make demo   set up, start the embedded PostgreSQL, generate scale-1 data, build, summarise"
	@echo "make test   set up, then run the pytest suite (real dbt, real PostgreSQL)"
	@echo "make test-spark  the business marts on a local Spark, compared row by row with PostgreSQL"
	@echo "make reliability  the fault suite (signals, a killed server, delivery faults): a table"
	@echo "make bench  the benchmark (scales 1, 2, 5, 10): bench/results/<date>.json and .md"
	@echo "make bench-spark  the full build on PostgreSQL and on a local Spark, side by side"
	@echo "make browser  the docs site and the report files in headless Chromium (installs chromium as root)"
	@echo "make lint   ruff, yamllint, dbt-bouncer (conventions, coverage), SQLFluff (dbt templater)"
	@echo "make docs   dbt docs generate (offline)"
	@echo "make clean  stop the embedded server, remove .venv, .ytempire and target/"

setup: $(STAMP) profiles.yml

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

# profiles.yml is the user's own copy (git-ignored); every value in it is an env_var().
profiles.yml: profiles.yml.example
	test -f profiles.yml || cp profiles.yml.example profiles.yml

demo: setup
	$(BIN)/ytempire demo

# Three workers, one test module at a time each (a module's tests share its fixtures in order).
# On 2 cores a third worker fills the time the others wait on PostgreSQL and on notification
# retries: 8 min 47 s against 9 min 24 s with two (and 8 min 54 s with four).
test: setup
	$(BIN)/pytest -n 3 --dist loadfile -m "not reliability and not spark"

# The business marts on Apache Spark (issue 15, README "Moving to Spark"): the `spark` extra
# (dbt-spark[session], pyspark; Java 17), then tests/python/test_spark.py, one process (a local
# Spark session of two cores, its own warehouse and metastore in a temporary folder).
SPARK_STAMP := $(VENV)/.installed-spark
$(SPARK_STAMP): pyproject.toml $(STAMP)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev,spark]'
	touch $(SPARK_STAMP)

test-spark: setup $(SPARK_STAMP)
	$(BIN)/pytest -m spark tests/python/test_spark.py

# The fault suite: every fault test (signals and a killed server included, which `make test`
# leaves out), each recording its row; then the table the README shows.
FAULT_TABLE := .ytempire/reliability.jsonl
reliability: setup
	rm -f $(FAULT_TABLE)
	YTEMPIRE_FAULT_TABLE=$(CURDIR)/$(FAULT_TABLE) $(BIN)/pytest -n 2 --dist loadfile \
		tests/python/test_faults.py tests/python/test_reliability.py \
		tests/python/test_delivery_faults.py
	$(BIN)/python tests/python/fault_table.py $(FAULT_TABLE)

# The benchmark (bench/run.py): on the embedded server, or the one PGHOST names. `make test`
# runs its smoke (scale 0.1, one repetition); BENCH_ARGS="--scales 1,2 --reps 5" narrows it.
bench: setup
	$(BIN)/python -m bench.run $(BENCH_ARGS)

# The engines side by side (bench/spark.py): the portable marts' full build on PostgreSQL and on
# a local Spark from the same generated data; bench/results/<date>-spark.json and .md.
bench-spark: setup $(SPARK_STAMP)
	$(BIN)/python -m bench.spark $(BENCH_SPARK_ARGS)

# dbt-bouncer checks the conventions (dbt-bouncer.yml) over the manifest parsed into target/;
# the model coverage figures are printed before, so a failing run shows them too.
lint: setup
	$(BIN)/ruff check orchestrator tests/python scripts bench
	$(BIN)/ruff format --check orchestrator tests/python scripts bench
	$(BIN)/yamllint -s -c .yamllint.yml .
	$(BIN)/ytempire dbt -- parse --quiet --target-path $(CURDIR)/target
	$(BIN)/python scripts/model_coverage.py target/manifest.json
	$(BIN)/dbt-bouncer run --config-file dbt-bouncer.yml --show-all-failures
	$(BIN)/ytempire db up > /dev/null  # SQLFluff's dbt templater connects (no-op with PGHOST set)
	eval "$$($(BIN)/ytempire db env)" && DBT_PROFILES_DIR=$(CURDIR) \
		$(BIN)/sqlfluff lint models tests analyses --processes 2

docs: setup
	$(BIN)/ytempire docs

db-up: setup
	$(BIN)/ytempire db up

db-down: setup
	$(BIN)/ytempire db down

clean:
	-test -x $(BIN)/ytempire && $(BIN)/ytempire db down
	rm -rf $(VENV) .ytempire target target-* logs site tests-output

# The browser tests: the docs site and the report files in headless Chromium. Debian's chromium
# is installed when missing (as root; otherwise the tests skip, saying so); playwright drives it
# and downloads no browser.
CHROMIUM := /usr/bin/chromium
browser: setup
	@if [ ! -x $(CHROMIUM) ] && [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && apt-get install -y chromium; fi
	$(BIN)/pytest tests/python/test_browser.py
