# The two commands of README.md: `make run` and `make test`. Both set everything up first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: run test lint

$(VENV)/.app: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.app requirements-dev.txt
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

.env:
	printf 'DEBUG=true\nSECRET_KEY=%s\n' "$$($(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(50))')" > .env
	@echo "Wrote .env (DEBUG=true and a random SECRET_KEY). Add your Twilio settings there."

run: $(VENV)/.app .env
	$(PY) manage.py migrate --no-input -v0
	$(PY) manage.py ensure_admin
	@echo "Open http://127.0.0.1:8000/ and sign in (admin back office: http://127.0.0.1:8000/admin/)."
	$(PY) manage.py runserver 127.0.0.1:8000

test: $(VENV)/.dev
	$(VENV)/bin/pytest

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
