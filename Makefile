# farmtrace: `make demo` runs a demo supply chain, `make test` runs every test.
# Both build a virtualenv in .venv on first use (Python 3.11+).

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo demo-farm test lint unit bench clean mosquitto translations deploy-test

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# The supply chain: two farms, a hatchery, a plant, a distributor and a shop, each its
# own log, two witnesses over all six, one consumer site (docs/supply-chain.md).
demo: $(STAMP) mosquitto
	$(VENV)/bin/farmtrace demo --chain --data-dir demo-chain

# One farm whose log holds every party's events, with the operators' desk.
demo-farm: $(STAMP) mosquitto
	$(VENV)/bin/farmtrace demo --data-dir demo-data

# The demo starts its own Mosquitto; install the Debian package if it is missing.
mosquitto:
	@command -v mosquitto >/dev/null || test -x /usr/sbin/mosquitto || { \
	    if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq mosquitto; \
	    else echo "farmtrace needs Mosquitto: sudo apt-get install mosquitto" >&2; exit 1; fi; }

test: $(STAMP) lint
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

unit: $(STAMP)
	$(PY) -m pytest tests/unit

# The stack as deployed (docs/deploy.md): nginx with TLS, the services under waitress,
# the generated units checked by systemd-analyze. Part of `make test` too.
deploy-test: $(STAMP)
	$(PY) -m pytest tests/deploy

# The consumer site's messages: extract them from code and templates into the
# template (messages.pot), then merge it into every catalogue (docs/consumer-site.md).
translations: $(STAMP)
	$(VENV)/bin/pybabel extract -F consumer_web/babel.cfg --add-location=file --no-wrap \
	  --sort-output --project=farmtrace -o consumer_web/translations/messages.pot consumer_web
	$(VENV)/bin/pybabel update -i consumer_web/translations/messages.pot \
	  -d consumer_web/translations --no-wrap --ignore-pot-creation-date

bench: $(STAMP)
	$(PY) bench/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
