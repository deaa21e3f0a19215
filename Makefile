# The README's two commands are `make demo` and `make test`; both bootstrap themselves.
PY := .venv/bin/python

.PHONY: bootstrap demo test bench lint

bootstrap:
	@scripts/bootstrap.sh

demo: bootstrap
	$(PY) -m launcher.cli demo

test: bootstrap
	$(PY) -m pytest

bench: bootstrap
	$(PY) bench/run_all.py

lint: bootstrap
	.venv/bin/ruff check .
