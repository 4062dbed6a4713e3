"""The console's settings (prefix LADLE_CONSOLE_)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.settings import REPO_ROOT


class ConsoleSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LADLE_CONSOLE_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8085
    users_file: Path = Field(
        default=REPO_ROOT / "deploy" / "sink" / "users.yaml", description="Who may sign in: the analyst accounts."
    )
    secret: str = Field(
        default="",
        description="Signs session cookies; empty: a random one per process (sign in again after a restart).",
    )
    session_hours: float = Field(default=12.0, gt=0)
    secure_cookies: bool = Field(default=False, description="Mark cookies Secure (behind HTTPS).")
    gateway_url: str = Field(default="http://127.0.0.1:8080/v1", description="The gateway the playground calls.")
    sink_api_url: str = Field(default="http://127.0.0.1:8082", description="The sink's query API (charts).")
    sink_api_user: str = "analyst"
    sink_api_password: str = "ladle-analyst"
    use_cases_file: Path = Field(
        default=REPO_ROOT / "deploy" / "enricher" / "use_cases.yaml", description="Each task's taxonomy (tag pickers)."
    )
    gateway_config_file: Path = Field(
        default=REPO_ROOT / "deploy" / "gateway" / "gateway.yaml",
        description="The gateway's deployments: which price each one answers at (its pricing_model or model).",
    )
    pricing_file: Path | None = Field(default=None, description="Prices for the playground's costs (default: Ladle's).")
