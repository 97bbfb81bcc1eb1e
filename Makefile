# The README's two commands are `make demo` and `make test`; `make bench` and `make i18n` serve developers.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
ARGS   ?=

.PHONY: demo test lint typecheck unit bench i18n serve clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Re-install only when the project's dependencies change.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/gateway demo $(ARGS)

serve: $(VENV)/.installed
	$(BIN)/gateway serve --with-worker $(ARGS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check gateway channels tests bench

typecheck: $(VENV)/.installed-test
	$(BIN)/mypy

unit: $(VENV)/.installed-test
	$(BIN)/pytest $(ARGS)

test: lint typecheck unit

bench: $(VENV)/.installed-test
	$(BIN)/python -m bench $(ARGS)

i18n: $(VENV)/.installed-test
	$(BIN)/pybabel extract -F config/babel.cfg -k _ -k gettext -k ngettext:1,2 -k pgettext:1c,2 \
		--sort-by-file --no-location --project=parent-gateway -o locales/messages.pot .
	$(BIN)/pybabel update -i locales/messages.pot -d locales --no-fuzzy-matching --ignore-obsolete
	$(BIN)/pybabel compile -d locales --statistics

clean:
	rm -rf $(VENV) var/*.db var/bench.json
