# Two entry points a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

NODE_STAMP := node_modules/.package-lock.json

.PHONY: run test lint format bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

# bpmn-js for the administrators' diagrams and bpmnlint for the process files come from the npm
# registry; without npm the diagram page says so and the lint test is skipped.
$(NODE_STAMP): package.json package-lock.json
	@if command -v npm >/dev/null; then npm ci --no-audit --no-fund --silent; \
	else echo "npm not found: admin diagrams and bpmnlint are unavailable"; fi

run: $(STAMP) $(NODE_STAMP)
	mkdir -p var
	$(BIN)/complaints init-db
	$(BIN)/complaints deploy processes
	$(BIN)/complaints demo
	$(BIN)/complaints serve --host 127.0.0.1 --port 5000

test: $(STAMP) $(NODE_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest -q

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python -m bench.engine

clean:
	rm -rf $(VENV) node_modules var/*.db
