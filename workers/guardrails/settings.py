"""GuardrailsSettings: env prefix LADLE_GUARDRAILS_. Built by a factory, never at import."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.guardrails.policy import DEFAULT_FILE


class GuardrailsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LADLE_GUARDRAILS_", extra="ignore")

    group_id: str = Field(default="ladle.guardrails", description="Consumer group, and the faust app id.")
    policy_file: Path = Field(default=DEFAULT_FILE, description="Policies per use case (YAML).")
    policy: str | None = Field(default=None, description="Apply this policy to every result instead of per use case.")
    max_batch_size: int = Field(
        default=256,
        ge=1,
        description="Results checked together; bigger batches amortise model calls, smaller cut latency.",
    )
    max_batch_wait_s: float = Field(default=0.05, gt=0, description="Longest wait to fill a batch.")
    max_in_flight_batches: int = Field(
        default=4,
        ge=1,
        description="Batches sent but not yet confirmed; more overlaps checking with delivery, uses memory.",
    )
    commit_interval_s: float = Field(default=1.0, gt=0, description="Offset commit period (acked results only).")
    commit_every: int = Field(default=10_000, ge=1, description="Also commit after this many acked results.")
    session_timeout_s: float = Field(default=30.0, gt=0, description="Broker session timeout; checks run off the loop.")
    threads: int = Field(
        default=1, ge=0, description="BLAS/torch threads for the models; 0 leaves the libraries' default."
    )
    dlq_redact: bool = Field(
        default=True, description="PII in a malformed result's raw bytes is redacted before it is dead-lettered."
    )
    metrics_port: int = Field(default=0, description="Prometheus port; 0 disables the endpoint.")
    metrics_addr: str = "127.0.0.1"
    log_every_s: float = Field(default=10.0, gt=0, description="Progress log period.")


def guardrails_settings() -> GuardrailsSettings:
    return GuardrailsSettings()
