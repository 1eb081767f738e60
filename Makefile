# The two commands of README.md: `make run` and `make test`. Both set everything up first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# The Canvas plugin's own virtualenv: importing canvas_sdk configures Django with Canvas's
# settings, so the plugin's tests cannot share a virtualenv or a process with the app's.
PLUGIN_VENV := .venv-plugin

.PHONY: run test test-plugin lint chromium

# Debian's chromium drives the browser tests (tests/browser); Playwright's own browser
# download does not work here. Installed when we are root, otherwise we say how.
CHROMIUM := /usr/bin/chromium

$(VENV)/.app: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.app requirements-dev.txt
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

$(PLUGIN_VENV)/.plugin: canvas_plugin/requirements-dev.txt
	test -x $(PLUGIN_VENV)/bin/python || $(PYTHON) -m venv $(PLUGIN_VENV)
	$(PLUGIN_VENV)/bin/python -m pip install -q --upgrade pip
	$(PLUGIN_VENV)/bin/python -m pip install -q -r canvas_plugin/requirements-dev.txt
	touch $@

.env:
	printf 'DEBUG=true\nSECRET_KEY=%s\n' "$$($(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(50))')" > .env
	@echo "Wrote .env (DEBUG=true and a random SECRET_KEY). Add your Twilio settings there."

# Serves the page and works the task queue (manage.py work) in one command; Ctrl-C stops both.
run: $(VENV)/.app .env
	$(PY) manage.py migrate --no-input -v0
	$(PY) manage.py ensure_admin
	@echo "Open http://127.0.0.1:8000/ and sign in (admin back office: http://127.0.0.1:8000/admin/)."
	@$(PY) manage.py work & worker=$$!; trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
		$(PY) manage.py runserver 127.0.0.1:8000

test: $(VENV)/.dev $(PLUGIN_VENV)/.plugin chromium
	$(VENV)/bin/pytest
	$(MAKE) --no-print-directory test-plugin

chromium:
	@test -x $(CHROMIUM) || { \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; \
		else \
			echo "The browser tests need Debian's chromium at $(CHROMIUM): run 'sudo apt-get install chromium' (or run make test as root), then make test again." >&2; \
			exit 1; \
		fi; \
	}

# `canvas validate` (manifest schema, sandbox lint, handlers load in the sandbox), then the
# plugin's tests with the real SDK. DATABASE_URL is the app's, never the SDK's.
test-plugin: $(PLUGIN_VENV)/.plugin
	cd canvas_plugin && env -u DATABASE_URL ../$(PLUGIN_VENV)/bin/canvas validate twilio_sms_mms
	cd canvas_plugin && env -u DATABASE_URL ../$(PLUGIN_VENV)/bin/pytest

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
