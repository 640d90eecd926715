# The two commands of the README: `make demo` and `make test`. Both set up the
# environment first (tools/setup_env.sh: idempotent, seconds when up to date).
PYTHON := $(if $(VIRTUAL_ENV),$(VIRTUAL_ENV)/bin/python,$(CURDIR)/.venv/bin/python)
DEMO_SIZE ?= small
# fine-tuning seeds per downstream run (empty: the size's default, 1)
DEMO_SEEDS ?=
export DEMO_SEEDS
PYTEST_ARGS ?=

.PHONY: setup demo test lint

setup:
	@tools/setup_env.sh >/dev/null

demo: setup
	$(PYTHON) tools/demo.py --size $(DEMO_SIZE)

lint: setup
	$(PYTHON) -m ruff check .

test: setup lint
	$(PYTHON) -m pytest tests $(PYTEST_ARGS)
