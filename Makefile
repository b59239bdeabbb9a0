# make verbs over npm scripts. Every target installs dependencies first (npm ci) when package-lock.json changed.
.PHONY: all demo test firmware bench lint typecheck format check clean

NODE_STAMP := node_modules/.tracelet-installed
TRACELET := node host-tools/bin/tracelet.js

all: firmware

$(NODE_STAMP): package-lock.json package.json
	@npm ci >&2
	@touch $(NODE_STAMP)

## demo: the main job, on simulated bands when no hardware is attached
demo: $(NODE_STAMP)
	$(TRACELET) demo

## test: build every board through the dialect gate, then run all tests (installs chromium for the kiosk page's;
## the authority's tests also run on a throw-away PostgreSQL when its binaries are here, and must in CI)
test: $(NODE_STAMP)
	@bash host-tools/scripts/ensure-chromium.sh
	bash host-tools/scripts/with-postgres.sh npx jest

## firmware: dist/<board>/tracelet.js for every board
firmware: $(NODE_STAMP)
	$(TRACELET) build --all

## bench: benchmarks as a table (figure, target, measured, pass, how measured); JSON in bench/results.json
## (authority-postgres runs on a throw-away PostgreSQL with fsync on when its binaries are here)
bench: $(NODE_STAMP)
	@TRACELET_PG_DURABLE=1 bash host-tools/scripts/with-postgres.sh $(TRACELET) bench

typecheck: $(NODE_STAMP)
	npm run typecheck

lint: $(NODE_STAMP)
	npm run lint
	npm run format:check

## check: everything CI runs
check: typecheck lint firmware test

clean:
	rm -rf dist bench/results.json
