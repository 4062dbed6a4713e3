"""Settings from the environment (pydantic-settings, prefix LADLE_), one class per service.

Build them with the factories here, never at import time, so tests and the CLI
can change the environment first.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class LadleSettings(BaseSettings):
    """What every Ladle process shares."""

    model_config = SettingsConfigDict(env_prefix="LADLE_", extra="ignore")

    data_dir: Path = Field(default=REPO_ROOT / "data", description="Embedded stores and the local broker live here.")
    kafka_bootstrap: str = Field(default="127.0.0.1:9092", description="Kafka bootstrap servers.")
    topic_prefix: str = Field(default="", description="Prefix for every topic name (tenants, test runs).")
    log_level: str = "INFO"
    log_format: str = Field(default="json", description="json for services, console for people.")


class BrokerSettings(BaseSettings):
    """The local single-node Kafka broker that `ladle kafka start` runs."""

    model_config = SettingsConfigDict(env_prefix="LADLE_BROKER_", extra="ignore")

    port: int = Field(default=9092, description="Client listener on 127.0.0.1.")
    controller_port: int = Field(default=0, description="KRaft controller listener; 0 means port + 1.")
    heap: str = Field(
        default="1g", description="JVM max heap; more holds more page cache in the JVM, less leaves it to the OS."
    )
    libs_dir: Path = Field(default=REPO_ROOT / ".cache" / "kafka" / "libs", description="Broker jars (make setup).")
    start_timeout_s: float = 90.0


class WorkerSettings(BaseSettings):
    """Runtime knobs of a Kafka worker. Subclass per service with its own env prefix."""

    model_config = SettingsConfigDict(env_prefix="LADLE_WORKER_", extra="ignore")

    group_id: str = ""
    max_batch_size: int = Field(
        default=2000, description="More amortises per-batch costs; fewer bounds memory and latency."
    )
    max_batch_wait_s: float = Field(
        default=0.2, description="Longest wait to fill a batch; lower means fresher, smaller batches."
    )
    commit_interval_s: float = Field(
        default=1.0,
        description="Checkpoint period: flush sinks and producer, commit. Longer is faster; shorter replays less after a crash.",
    )
    commit_every: int = Field(default=50_000, description="Also checkpoint after this many messages.")
    gc_threshold: int = Field(
        default=20_000, description="Gen-0 GC threshold; higher is faster and uses more memory between collections."
    )
    metrics_port: int = Field(default=0, description="Prometheus port; 0 disables the endpoint.")
    metrics_addr: str = Field(default="127.0.0.1", description="0.0.0.0 in containers so Prometheus can scrape.")
    max_paused_s: float = Field(default=300.0, description="Backpressure longer than this is fatal.")
    session_timeout_ms: int = 45_000
    max_poll_interval_ms: int = 300_000


def ladle_settings() -> LadleSettings:
    return LadleSettings()


def broker_settings() -> BrokerSettings:
    return BrokerSettings()
