# The two commands of the README. Both create .venv on first use and install the project into it.
#   make serve   install, then serve the app with Voila on 127.0.0.1:8866 (config: voila.py)
#   make test    install with the test tools (and Debian's chromium when missing), run every test
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: serve test install install-test chromium

serve: install
	$(BIN)/voila notebooks/explorer.ipynb

test: install-test chromium
	$(BIN)/python -m pytest

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

# torch is pinned in pyproject.toml: torch==2.13.0 is the CPU wheel on this kind of machine.
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

# The browser tests drive Debian's chromium through Playwright (never `playwright install`).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }
