# Fangkong (防控): `make run` starts the demo, `make test` runs the whole suite, `make lint` checks the code.
# Everything it needs is installed on demand: the virtualenv and Python packages (again when pyproject.toml changes),
# the npm assets (again when package-lock.json changes), gettext for the translations, Chromium for browser tests.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
VAR_DIR := $(or $(FANGKONG_VAR_DIR),var)
HOST ?= 127.0.0.1
PORT ?= 8000
# Extra arguments for the main pytest run, e.g. `make test PYTEST_ARGS="-k people -x"`.
PYTEST_ARGS ?=
# Parallel workers for the PostgreSQL run (the SQLite smoke part always runs in one process).
PYTEST_WORKERS ?= 2
UID_NOW := $(shell id -u)

.PHONY: help run test lint deps assets messages fonts chromium db demo smoke makemessages screenshot clean

help:
	@echo "make run    - install what is missing, migrate, load regions, seed the demo, start web + Huey (HOST/PORT)"
	@echo "make test   - install what is missing, run pytest (DATABASE_URL, PostgreSQL when set), then the SQLite smoke part"
	@echo "make lint   - ruff, mypy, manage.py check, makemigrations --check"
	@echo "make makemessages - refresh locale/*/LC_MESSAGES/django.po from the code"

# --- installation -------------------------------------------------------------------------------------------------

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# The stamp is newer than pyproject.toml once it has been installed; editing pyproject.toml reinstalls.
$(VENV)/.installed: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[dev]'
	rm -rf *.egg-info  # setuptools' build leftover; the install itself lives in the venv
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund || npm install --no-audit --no-fund
	touch $@

deps: $(VENV)/.installed
assets: node_modules/.installed

# msgfmt comes from gettext; as root we install it, otherwise Babel (a dev dependency) compiles the catalogues.
messages: deps
	@if command -v msgfmt >/dev/null; then \
	  $(PY) manage.py compilemessages --ignore=.venv --ignore=node_modules -v 0; \
	elif [ "$(UID_NOW)" = 0 ] && command -v apt-get >/dev/null; then \
	  (apt-get install -y --no-install-recommends gettext >/dev/null 2>&1 || \
	   (apt-get update -qq && apt-get install -y --no-install-recommends gettext >/dev/null)) && \
	  $(PY) manage.py compilemessages --ignore=.venv --ignore=node_modules -v 0; \
	else \
	  for po in locale/*/LC_MESSAGES/django.po; do \
	    $(PY) -c "import sys; from babel.messages.pofile import read_po; from babel.messages.mofile import write_mo; \
	      write_mo(open(sys.argv[2], 'wb'), read_po(open(sys.argv[1], 'rb')))" "$$po" "$${po%.po}.mo" || exit 1; \
	  done; \
	fi

CJK_FONT := /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc
APT_INSTALL := DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends

# The CJK font the venue posters (PDF) are set in, for `make run` and the tests.
fonts:
	@if [ ! -e $(CJK_FONT) ]; then \
	  if [ "$(UID_NOW)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing fonts-noto-cjk for the venue posters"; \
	    ($(APT_INSTALL) fonts-noto-cjk >/dev/null 2>&1 || (apt-get update -qq && $(APT_INSTALL) fonts-noto-cjk >/dev/null)); \
	  else \
	    echo "warning: fonts-noto-cjk is missing and we are not root: venue posters will say a CJK font is needed"; \
	  fi; \
	fi

# Chromium for the browser tests (a machine can have it without the font, or the font without it).
chromium: fonts
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$(UID_NOW)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian's chromium for the browser tests"; \
	    ($(APT_INSTALL) chromium >/dev/null 2>&1 || (apt-get update -qq && $(APT_INSTALL) chromium >/dev/null)); \
	  else \
	    echo "warning: /usr/bin/chromium is missing and we are not root: browser tests will be skipped"; \
	  fi; \
	fi

makemessages: deps
	$(PY) manage.py makemessages -l en -l zh_Hans --ignore=.venv --ignore=node_modules --ignore=var --ignore=bench \
	  --no-obsolete --add-location=file

# --- the demo -----------------------------------------------------------------------------------------------------

db: deps assets messages
	$(PY) manage.py migrate --no-input -v 0
	$(PY) manage.py load_regions

# seed_demo is idempotent; the stamp only saves its time on later starts. Never in production.
demo: db
	@if [ "$$FANGKONG_ENV" = production ]; then echo "FANGKONG_ENV=production: no demo data"; \
	elif [ ! -f "$(VAR_DIR)/.demo-seeded" ] || [ -n "$$SEED" ]; then \
	  if $(PY) manage.py help seed_demo >/dev/null 2>&1; then \
	    $(PY) manage.py seed_demo && mkdir -p "$(VAR_DIR)" && touch "$(VAR_DIR)/.demo-seeded"; \
	  else echo "warning: manage.py seed_demo does not exist yet: starting without demo data"; fi; \
	fi

run: demo fonts
	HOST=$(HOST) PORT=$(PORT) exec $(PY) manage.py run

# --- checks -------------------------------------------------------------------------------------------------------

# The whole suite against DATABASE_URL (PostgreSQL when set), then the smoke part on a fresh SQLite database.
# Exit code 5 (no tests collected) only fails when neither run collected anything.
test: deps assets messages chromium
	@set -u; \
	workers=""; \
	if [ -n "$${DATABASE_URL:-}" ] && [ "$(PYTEST_WORKERS)" != 0 ]; then workers="-n $(PYTEST_WORKERS) --dist loadfile"; fi; \
	db=$${DATABASE_URL:-sqlite:}; echo "== pytest on $${db%%:*} $$workers"; \
	$(PY) -m pytest -q $$workers $(PYTEST_ARGS); main=$$?; \
	smoke_dir=$$(mktemp -d); \
	echo "== pytest -m smoke on SQLite ($$smoke_dir)"; \
	env -u DATABASE_URL FANGKONG_VAR_DIR=$$smoke_dir $(PY) -m pytest -q -m smoke; smoke=$$?; \
	rm -rf "$$smoke_dir"; \
	echo "== main run: exit $$main, SQLite smoke: exit $$smoke"; \
	if [ $$main = 5 ] && [ $$smoke = 5 ]; then echo "no tests ran at all"; exit 5; fi; \
	[ $$main = 5 ] && main=0; [ $$smoke = 5 ] && smoke=0; \
	exit $$(( main != 0 ? main : smoke ))

smoke: deps assets messages
	@smoke_dir=$$(mktemp -d); env -u DATABASE_URL FANGKONG_VAR_DIR=$$smoke_dir $(PY) -m pytest -q -m smoke; rc=$$?; \
	rm -rf "$$smoke_dir"; exit $$rc

# Every check blocks: ruff, Django's system checks, no missing migrations, mypy.
lint: deps
	$(VENV)/bin/ruff check .
	$(PY) manage.py check
	$(PY) manage.py makemigrations --check --dry-run
	$(VENV)/bin/mypy fangkong config

# README screenshot of the running demo (needs `make run` in another terminal).
screenshot: deps
	$(PY) bench/screenshot.py --url http://$(HOST):$(PORT) --out docs/screenshots

clean:
	rm -rf staticfiles test-results bench/out
	find locale -name '*.mo' -delete
