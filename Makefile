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

PG_SERVER ?= postgresql+psycopg://postgres@127.0.0.1:5432

test: $(STAMP) $(NODE_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest -q
	@if $(BIN)/python -c "import sqlalchemy as s; s.create_engine('$(PG_SERVER)/postgres').connect()" 2>/dev/null; \
	then echo "--- the suite again on PostgreSQL"; \
	  COMPLAINTS_TEST_DATABASE_URL=$(PG_SERVER) $(BIN)/pytest -q -p no:cacheprovider; \
	else echo "PostgreSQL does not answer at $(PG_SERVER): suite ran on SQLite only"; fi

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python -m bench.engine

clean:
	rm -rf $(VENV) node_modules var/*.db
