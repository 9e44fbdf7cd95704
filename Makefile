# Gongyou: `make run` sets up whatever is missing and starts the three processes;
# `make test` sets up and runs the whole suite. Everything else here serves those two.

SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
# This machine's pip config names package folders that do not exist; pip warns about each.
PIP_QUIET := 2>&1 | { grep -v '^WARNING: Location' || true; }
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
RASA_VENV := .venv-rasa
MAIN_STAMP := $(VENV)/.installed
RASA_STAMP := $(RASA_VENV)/.installed
PY := $(VENV)/bin/python

# Finding Python 3.10 for Rasa: $PYTHON_RASA, then python3.10 on PATH (if it really runs),
# then pyenv's versions, then uv's. Empty if none.
define find_python_rasa
if [ -n "$$PYTHON_RASA" ]; then echo "$$PYTHON_RASA"; exit 0; fi; \
if python3.10 -c 'import sys; assert sys.version_info[:2] == (3, 10)' >/dev/null 2>&1; then command -v python3.10; exit 0; fi; \
root=$$(pyenv root 2>/dev/null || echo "$$HOME/.pyenv"); \
for p in $$(ls -d "$$root"/versions/3.10*/bin/python3.10 2>/dev/null | sort -V -r); do "$$p" -c '' >/dev/null 2>&1 && { echo "$$p"; exit 0; }; done; \
if command -v uv >/dev/null 2>&1; then uv python find 3.10 2>/dev/null && exit 0; fi; \
true
endef

define no_python_rasa
	echo "Rasa 3.6 needs Python 3.10, and none was found (checked \$$PYTHON_RASA, python3.10, pyenv, uv)."; \
	echo "Get one, then run make again:"; \
	echo "  with pyenv:  pyenv install 3.10.13            (make finds it by itself)"; \
	echo "  with uv:     uv python install 3.10           (make finds it by itself)"; \
	echo "  on Debian/Ubuntu with deadsnakes: sudo apt install python3.10 python3.10-venv"; \
	echo "  or point at one you have:  make run PYTHON_RASA=/path/to/python3.10"; \
	exit 1
endef

.PHONY: help run test setup model check-python check-browser clean-models
help:
	@echo "make run    set up what is missing, train the model if needed, start gateway + Rasa + actions"
	@echo "make test   set up, then run the whole test suite"

# Checked before anything is installed, so a missing Python 3.10 never leaves a half setup.
check-python:
	@py=$$($(find_python_rasa)); \
	if [ -z "$$py" ] && [ ! -f $(RASA_STAMP) ]; then $(no_python_rasa); fi
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "the main venv needs Python >= 3.11; set PYTHON=/path/to/python3.11")'

$(MAIN_STAMP): pyproject.toml requirements.lock
	@echo "[setup] main virtual environment $(VENV) (Python >= 3.11)"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --upgrade pip $(PIP_QUIET)
	@$(PY) -m pip install -q -c requirements.lock -e ".[test]" $(PIP_QUIET) || { echo "[setup] pip failed; $(VENV) left without its stamp, run make again"; exit 1; }
	@touch $@

$(RASA_STAMP): requirements-rasa.txt requirements-rasa.lock
	@py=$$($(find_python_rasa)); if [ -z "$$py" ]; then $(no_python_rasa); fi; \
	echo "[setup] Rasa virtual environment $(RASA_VENV) with $$py (takes a few minutes the first time)"; \
	"$$py" -m venv $(RASA_VENV) && \
	{ $(RASA_VENV)/bin/python -m pip install -q --upgrade "pip<25" $(PIP_QUIET); } && \
	{ $(RASA_VENV)/bin/python -m pip install -q -r requirements-rasa.txt -c requirements-rasa.lock $(PIP_QUIET); } \
	|| { echo "[setup] installing Rasa failed; removing $(RASA_VENV) so nothing half-installed stays"; rm -rf $(RASA_VENV); exit 1; }
	@touch $@

setup: check-python $(MAIN_STAMP) $(RASA_STAMP)

# Trains only when no model exists for the hash of nlu/, stories/, domain.yml, config.yml
# (and the Rasa pin); a model trained earlier is also taken from ~/.cache/gongyou.
model: setup
	@$(PY) -m bot train

run: model
	@$(PY) -m bot stack

# The browser tests drive Debian's Chromium (never a downloaded browser) and need a font with
# Chinese glyphs. Installed here when we can (Debian, as root); otherwise the exact command.
check-browser:
	@missing=""; \
	[ -x /usr/bin/chromium ] || missing="chromium chromium-driver"; \
	fc-list :lang=zh 2>/dev/null | grep -q . || missing="$$missing fonts-wqy-microhei"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "[setup] installing$$missing (browser tests)"; \
	    apt-get install -y -q $$missing >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q $$missing >/dev/null; }; \
	  else \
	    echo "The browser tests need Debian's Chromium and a Chinese font. Install them, then run make again:"; \
	    echo "  sudo apt-get install -y$$missing"; exit 1; \
	  fi; \
	fi

test: model check-browser
	@$(VENV)/bin/ruff check .
	@$(PY) -m pytest $(PYTEST_ARGS)

clean-models:
	rm -rf models
