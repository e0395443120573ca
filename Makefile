# Every target runs the idempotent set-up first (apt packages, header links, .venv).
PY := .venv/bin/python
SETUP := .venv/.setup-done

.PHONY: setup test static test-unit lab bench lint typecheck clean install

setup:
	@bash scripts/setup.sh

test: setup static
	$(PY) -m pytest tests -n 2 --dist loadgroup

# ruff (lint + format) and mypy (strict on the pure packages): part of make test
static: setup
	$(PY) -m ruff check hadaemon tests bench
	$(PY) -m ruff format --check hadaemon tests bench
	$(PY) -m mypy hadaemon

test-unit: setup
	$(PY) -m pytest tests/unit tests/golden -q

lab: setup
	$(PY) -m hadaemon lab

bench: setup
	$(PY) bench/run_all.py

lint: setup
	$(PY) -m ruff check hadaemon tests bench
	$(PY) -m ruff format --check hadaemon tests bench

typecheck: setup
	$(PY) -m mypy hadaemon

install: setup
	install -D -m 0644 systemd/hadaemon.service /etc/systemd/system/hadaemon.service
	install -d -m 0755 /etc/hadaemon
	install -D -m 0644 man/hadaemon.8 /usr/local/share/man/man8/hadaemon.8
	install -D -m 0644 man/hadaemon.conf.5 /usr/local/share/man/man5/hadaemon.conf.5
	/usr/bin/python3 -m pip install --break-system-packages . 2>/dev/null || $(PY) -m pip install .

clean:
	rm -rf .venv build *.egg-info .pytest_cache
