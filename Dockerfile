# The Ladle image: every service and the CLI. Used by docker-compose.yml.
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 LADLE_LOG_FORMAT=json LADLE_DATA_DIR=/data
WORKDIR /app
COPY pyproject.toml README.md ./
COPY schemas schemas
COPY topics topics
COPY shared shared
COPY workers workers
COPY services services
COPY benchmarks benchmarks
COPY deploy deploy
RUN pip install .
VOLUME /data
ENTRYPOINT ["ladle"]
