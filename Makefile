# The two commands of the README. Both create .venv on first use and install the project into it.
#   make serve   install, then serve the app with Voila on 127.0.0.1:8866 (config: voila.py; the
#                command is explorer-serve, Voila with the explorer's page handler)
#                and the lesson notebooks at /lessons/ (explorer/serving/lessons.py)
#   make test    install with the test tools (and Debian's chromium when missing), run every test
#   make hub     serve it per user under JupyterHub on 127.0.0.1:8000 (deploy/jupyterhub/)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: serve test install install-test chromium hub install-hub proxy

serve: install
	$(BIN)/explorer-serve notebooks/explorer.ipynb

# two workers, each given whole test files (a browser test file shares one server and one browser);
# most browser tests wait on a page or a kernel, so two workers suit two cores
test: install-test chromium
	$(BIN)/python -m pytest -n 2 --dist loadfile

# JupyterHub with a shared password (EXPLORER_HUB_PASSWORD, else one is made and printed); its
# state in deploy/jupyterhub/.state. deploy/README.md explains it and the Kubernetes setup.
hub: install-hub
	$(BIN)/jupyterhub -f deploy/jupyterhub/jupyterhub_config.py

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test proxy
install-hub: $(VENV)/.installed-hub proxy

# torch is pinned in pyproject.toml: torch==2.13.0 is the CPU wheel on this kind of machine.
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[test,hub]'
	touch $@

$(VENV)/.installed-hub: pyproject.toml $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[hub]'
	touch $@

# JupyterHub's proxy, configurable-http-proxy, from the npm registry into deploy/jupyterhub/
# node_modules (not committed), as package-lock.json pins it; Node.js >= 20 (Debian's nodejs and
# npm when missing).
PROXY := deploy/jupyterhub/node_modules/.installed
proxy: $(PROXY)
$(PROXY): deploy/jupyterhub/package.json deploy/jupyterhub/package-lock.json
	@command -v npm >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq nodejs npm >/dev/null; }
	npm ci --prefix deploy/jupyterhub --no-audit --no-fund --loglevel=error
	touch $@

# The browser tests drive Debian's chromium through Playwright (never `playwright install`).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }
