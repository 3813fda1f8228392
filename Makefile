# cnnviz-widget — two commands: `make demo` and `make test`. Everything else here serves them.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --quiet
STAMPS := .make
PIP_FILTER := { grep -v -e "^WARNING: Location" -e "is ignored: it is neither" || true; }
JS_SOURCES := $(shell find js/src -type f 2>/dev/null) js/package.json js/build.mjs
STATIC := cnnviz_widget/static/widget.js
NOTEBOOK ?= notebooks/01-tour.ipynb
PORT ?= 8888
APP_PORT ?= 8866

.PHONY: demo test app test-fast lint bench js setup sysdeps clean help

help:
	@echo "make demo   set everything up and open the tour notebook in JupyterLab"
	@echo "make test   set everything up and run every test (unit, widget, node, browser, JupyterLab)"
	@echo "make app    serve the classroom app (Voila: the widget without code) to your network on port $(APP_PORT)"
	@echo "make bench  run the performance scripts in bench/ (prints ratios)"

## ---------------------------------------------------------------- setup
# System packages: Debian's Chromium (browser tests), the Fashion-MNIST files (train-your-own notebook) and the
# photo cut-outs of the demo image pool (tuxpaint-stamps-default).
$(STAMPS)/sysdeps:
	@mkdir -p $(STAMPS)
	@missing=""; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	[ -d /usr/share/datasets/fashion-mnist ] || missing="$$missing dataset-fashion-mnist"; \
	[ -d /usr/share/tuxpaint/stamps ] || missing="$$missing tuxpaint-stamps-default"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages:$$missing"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing) >/dev/null; \
	  elif command -v sudo >/dev/null 2>&1; then \
	    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "warning: missing Debian packages:$$missing (install them as root; the tests that need them will skip)"; \
	  fi; \
	fi
	@touch $@

$(STAMPS)/venv: pyproject.toml
	@mkdir -p $(STAMPS)
	@[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	@echo "installing Python packages into $(VENV) (first time: a few minutes)"
	@$(PIP) install --upgrade pip 2>&1 | $(PIP_FILTER)
	@$(PIP) install -e '.[test]' 2>&1 | $(PIP_FILTER)
	@$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	@touch $@

$(STATIC): $(JS_SOURCES)
	@if [ -f js/package.json ]; then \
	  cd js && (npm ci --no-audit --no-fund --loglevel=error || npm install --no-audit --no-fund --loglevel=error) \
	  && npm run --silent build; fi

js: $(STATIC)

sysdeps: $(STAMPS)/sysdeps
setup: $(STAMPS)/sysdeps $(STAMPS)/venv $(STATIC)

## ---------------------------------------------------------------- the two commands
# No flag for the low-latency server extension: the install enabled it (etc/jupyter/jupyter_server_config.d).
# The tour is the server's default URL: the URLs it prints (and the browser it opens, if any) go to the tour itself.
demo: setup
	$(VENV)/bin/jupyter lab --ServerApp.root_dir=$(CURDIR) --port=$(PORT) $$([ "$$(id -u)" = 0 ] && echo --allow-root) \
	  --LabApp.default_url=/lab/tree/$(NOTEBOOK)

test: setup
	$(VENV)/bin/ruff check cnnviz_widget tests bench
	@if [ -f js/package.json ]; then cd js && npm test --silent; fi
	$(PY) -m pytest -q $(PYTEST_ARGS)

## ---------------------------------------------------------------- extras
app: setup
	$(VENV)/bin/cnnviz app notebooks/classroom-app.ipynb --port $(APP_PORT)

test-fast: setup
	$(PY) -m pytest -q -m "not browser and not jupyter and not slow" $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check cnnviz_widget tests bench

bench: setup
	@for script in bench/*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

clean:
	rm -rf $(STAMPS) cnnviz_widget/static js/node_modules test-artifacts
