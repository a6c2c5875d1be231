# The two commands that set up everything on a fresh machine: `make demo` and `make test`.
VENV   ?= .venv
PY     := $(VENV)/bin/python
CORPUS ?= $(if $(wildcard ../shared/corpus),../shared/corpus,samples/mail)

.PHONY: demo test install install-test bench clean-demo

# The demo needs mailark alone; the tests add their extras (playwright, moto, schemathesis, ...).
# setuptools says "Editable installation" (an information, not a problem) for every editable install
# whose packages live in mapped folders, as ours do (pyproject's package-dir); pip shows it as a warning.
EDITABLE := PYTHONWARNINGS="ignore:Editable installation" $(PY) -m pip install -q -e

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(EDITABLE) .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(EDITABLE) ".[test]"
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

## Set up, start the embedded default (Prefect server), archive the sample mail, say where to look.
demo: $(VENV)/.installed
	$(VENV)/bin/mailark demo --corpus $(CORPUS)

## Install what the tests need, start the real peers (fixtures do), run the suite.
# The OpenID Connect provider the sign-in tests run (tests/peers/oidc_provider.py): npm, once.
OIDC_PROVIDER_DIR ?= $(HOME)/.cache/mailark/oidc-provider
export MAILARK_OIDC_PROVIDER_DIR := $(OIDC_PROVIDER_DIR)

$(OIDC_PROVIDER_DIR)/node_modules/oidc-provider/package.json:
	-command -v npm >/dev/null && npm install --no-audit --no-fund --prefix $(OIDC_PROVIDER_DIR) oidc-provider@9

test: $(VENV)/.installed-test $(OIDC_PROVIDER_DIR)/node_modules/oidc-provider/package.json
	bash scripts/install-test-deps.sh
	$(PY) -m pytest -q

## Benchmarks (figures go to BENCHMARKS.md by hand, with the command).
bench: $(VENV)/.installed
	$(PY) -m bench.ingest --users 50 --messages 20000

clean-demo:
	-$(VENV)/bin/mailark server stop
