# shopgraph: `make up` runs everything, `make test` tests everything. `make help` lists the rest.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

SUBGRAPHS := users orders payments delivery
DELIVERY_TS := subgraphs/delivery-ts
# Where `pip install uv` puts uv on a fresh machine (scripts/setup.sh), in case it is not on PATH.
export PATH := $(PATH):$(shell python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')
STACK := uv run --frozen python scripts/stack.py

.PHONY: help setup deps router up down status logs traces restart dead-letters \
        export-schemas compose accept-schema-change check-schema \
        lint typecheck test test-units test-root test-e2e test-contract chaos

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-22s %s\n", $$1, $$2}'

# ---- setup -------------------------------------------------------------------

setup: ## install what is missing: redis-server, FerretDB, Jaeger, the Apollo Router (first build is long), npm and uv deps
	@scripts/setup.sh

deps: $(DELIVERY_TS)/dist/src/main.js ## only the project dependencies: the npm installs (router/, the explorer's, the dashboard's, delivery-ts) and every uv environment
	@scripts/npm-ci.sh router
	@scripts/npm-ci.sh $(DELIVERY_TS)
	@scripts/npm-ci.sh libs/shopkit/src/shopkit/explorer
	@scripts/npm-ci.sh monitoring/dashboard
	@for project in . libs/shopkit $(addprefix subgraphs/,$(SUBGRAPHS)); do uv sync --frozen --quiet --project $$project; done

# The TypeScript delivery (subgraphs/delivery-ts), compiled when its sources or lock file change.
$(DELIVERY_TS)/dist/src/main.js: $(wildcard $(DELIVERY_TS)/src/* $(DELIVERY_TS)/test/*) $(DELIVERY_TS)/tsconfig.json $(DELIVERY_TS)/package-lock.json
	@scripts/npm-ci.sh $(DELIVERY_TS)
	@echo "==> tsc ($(DELIVERY_TS))"; cd $(DELIVERY_TS) && rm -rf dist && npx tsc -p tsconfig.json

router: ## build the pinned Apollo Router (once; never rebuilt while the binary exists)
	@scripts/install-router.sh

# ---- the local stack (ROUTER=gateway for Apollo Gateway, ROUTER_PROFILE=prod for the production config)

up: setup $(DELIVERY_TS)/dist/src/main.js ## start stores, subgraphs, router (and GraphiQL for it on :4080); returns when the graph answers on http://127.0.0.1:4000/
	@$(STACK) up

down: ## stop the stack (data stays in var/stack)
	@$(STACK) down

status: ## show each process of the stack
	@$(STACK) status

logs: ## follow the logs of every process (make logs p=users for one)
	@$(STACK) logs $(p)

traces: ## with TRACING=1 make up: the latest traces through orders (id=<trace id> prints that one as a tree)
	@uv run --frozen python scripts/traces.py $(id)

dead-letters: ## list the events consumers set aside; a="replay <stream> <group> <id>|--all" replays
	@uv run --frozen python scripts/dead_letters.py $(or $(a),list)

restart: ## restart one process and wait until it is healthy: make restart p=orders
	@test -n "$(p)" || { echo "usage: make restart p=<program>"; exit 2; }
	@$(STACK) restart $(p)

# ---- schemas -----------------------------------------------------------------

export-schemas: deps ## write each subgraph's SDL from its code to subgraphs/<name>/schema.graphql
	@scripts/export-schemas.sh

compose: export-schemas ## export the SDLs and compose router/supergraph.graphql (+ the API schema baseline)
	@node router/compose.mjs

accept-schema-change: export-schemas ## compose, and acknowledge a breaking API change in router/api-schema.graphql
	@node router/compose.mjs --accept-breaking

check-schema: deps ## fail if a schema.graphql is stale, composition fails, the supergraph is stale, or the API breaks
	@scripts/check-schema.sh

# ---- tests -------------------------------------------------------------------

lint: deps ## ruff over every Python project
	@uv run --frozen ruff check .

typecheck: deps ## mypy --strict, each project in its own environment
	@status=0; for project in libs/shopkit $(addprefix subgraphs/,$(SUBGRAPHS)); do \
	  echo "==> mypy $$project"; (cd $$project && uv run --frozen mypy src tests) || status=1; done; \
	echo "==> mypy bench"; (cd bench && uv run --frozen mypy .) || status=1; \
	echo "==> tsc --strict $(DELIVERY_TS)"; (cd $(DELIVERY_TS) && npx tsc -p tsconfig.json --noEmit) || status=1; \
	echo "==> mypy (root: tests, scripts)"; uv run --frozen mypy || status=1; exit $$status

test-units: deps ## each service's tests and shopkit's, against real stores; the bench's own tests
	@status=0; for project in libs/shopkit $(addprefix subgraphs/,$(SUBGRAPHS)) bench; do \
	  echo "==> pytest $$project"; (cd $$project && uv run --frozen pytest -q) || status=1; done; \
	echo "==> node --test $(DELIVERY_TS)"; (cd $(DELIVERY_TS) && node --test dist/test/) || status=1; exit $$status

test-contract: deps ## the delivery contract suite against both implementations (tests/contract/README.md)
	@uv run --frozen pytest -q tests/contract

test-root: deps ## the root tests: schema checks, router config, end to end through both routers
	@echo "==> pytest tests/ (root)"
	@uv run --frozen pytest -q

chaos: deps ## a longer chaos run (CHAOS_SECONDS, default 120): services SIGKILLed while customers shop; prints the counts
	@CHAOS_SECONDS=$${CHAOS_SECONDS:-120} uv run --frozen pytest -q -s tests/faults/test_chaos.py

test-e2e: deps ## only the end-to-end tests through the routers
	@uv run --frozen pytest -q tests/e2e

test: setup check-schema lint typecheck test-units test-root ## everything CI runs
	@echo "==> all tests passed"

# ---- benchmarks --------------------------------------------------------------

.PHONY: bench
bench: setup ## benchmark the graph on its own stack (var/bench-<orders>); BENCH_QUICK=1 for a short run; see docs/performance.md
	@bench/run.sh
