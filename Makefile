# The quick start's commands: `make run`, and `make test-all` for every test (`make test` while working). Each sets up what it needs.
PYTHON ?= python3
# Python caches compiled modules (some machines turn that off): each `dhr` a test starts, and each test
# worker, then reads the engine's modules compiled instead of compiling them again.
unexport PYTHONDONTWRITEBYTECODE
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha256sum pyproject.toml | cut -c1-12)

.PHONY: setup assets run test test-long test-all lint bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

# Front-end packages (served from node_modules), the studio's bundle (bpmn-js with the properties
# panel and our spiffworkflow extension, built by esbuild from webforms/static/src, rebuilt when a
# source or the packages change), Debian's chromium for the browser tests and Debian's DejaVu Sans,
# the Unicode font the PDFs are written in.
PDF_FONT := /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
node_modules/.installed: package.json
	npm install --no-audit --no-fund
	@touch $@

STUDIO_BUNDLE := node_modules/.dhr-build/studio.js
$(STUDIO_BUNDLE): node_modules/.installed $(wildcard webforms/static/src/*)
	npm run --silent build:studio

setup: $(STAMP) node_modules/.installed assets
	@(command -v chromium >/dev/null && test -f $(PDF_FONT)) || \
		(apt-get update && apt-get install -y chromium fonts-dejavu-core)

# bpmnlint's rules for the process studio's browser-side checks, bundled by esbuild (not committed).
STUDIO_LINT := webforms/static/build/studio_lint.js
$(STUDIO_LINT): node_modules/.installed .bpmnlintrc webforms/static/src/studio_lint.mjs webforms/static/src/build_studio_lint.mjs
	node webforms/static/src/build_studio_lint.mjs

# The studio's two bundles (what a production install builds after `npm ci`: `make assets`).
assets: $(STUDIO_BUNDLE) $(STUDIO_LINT)

# Set up, then run the product on an embedded SQLite database (var/dhr.sqlite3) with demo data
# on the simulated clock, on port PORT (`make run PORT=8001`).
PORT ?= 8000
run: export DHR_BASE_URL ?= http://127.0.0.1:$(PORT)
run: setup
	DHR_CLOCK=simulated $(BIN)/dhr db upgrade
	DHR_CLOCK=simulated $(BIN)/dhr demo
	@echo
	DHR_CLOCK=simulated $(BIN)/dhr cases list
	@echo
	DHR_CLOCK=simulated $(BIN)/dhr tasks list
	@echo
	@echo "The demo runs on the simulated clock: export DHR_CLOCK=simulated, then use $(BIN)/dhr (see README)."
	@echo
	@echo "Web app: http://127.0.0.1:$(PORT)/ (Ctrl-C to stop). Demo logins:"
	@$(BIN)/python -c "from engine.review.demo import DEMO_USERS, DEMO_PASSWORD; [print(f'  {u} ({r}), password {DEMO_PASSWORD}') for u, r, *_ in DEMO_USERS]"
	DHR_CLOCK=simulated $(BIN)/dhr web --port $(PORT)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/mypy

# Tests run on both databases, spread over the machine's cores (pytest-xdist; an idle worker takes
# tests from a busy one; PYTEST_JOBS=0 runs them in one process).
PYTEST_JOBS ?= auto
PYTEST := $(BIN)/pytest -n $(PYTEST_JOBS) --dist worksteal

# Set up, lint, type-check and run every test but the long ones (marked `long`: a thousand timers,
# the CLI journey), on SQLite and PostgreSQL; of the files marked `postgres_in_second_step` (their
# database use is covered on PostgreSQL by the other files) the SQLite runs only.
test: lint
	$(PYTEST) -m "not long and not second_step"

# The rest: the long tests and the PostgreSQL runs that `make test` leaves out (CI's second step).
test-long: setup
	$(PYTEST) -m "long or second_step"

# Lint, type-check and run every test, long ones too: what CI runs.
test-all: lint
	$(PYTEST)

bench: setup
	$(BIN)/python bench/task_completion.py
	$(BIN)/python bench/script_budget.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
