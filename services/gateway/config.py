"""Gateway settings (env) and its config file (deployments, aliases, teams, semantic cache,
guardrails per alias)."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.runtime.errors import UserError
from shared.settings import REPO_ROOT


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LADLE_GATEWAY_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8080
    config_file: Path = Field(default=REPO_ROOT / "deploy" / "gateway" / "gateway.yaml")
    emit_events: bool = Field(default=True, description="Publish an LLMCall per call to llm.calls.")


class Deployment(BaseModel):
    """One upstream model endpoint."""

    name: str
    provider: Literal["openai", "openai_compatible", "anthropic", "ladle"] = Field(
        description="`ladle`: Ladle's own sentence-transformers model, in-process (embeddings only)."
    )
    model: str = Field(
        description="The model name the upstream expects (for `ladle`: the encoder, e.g. all-minilm-l6-v2)."
    )
    base_url: str | None = None
    api_key_env: str | None = Field(default=None, description="Environment variable holding the upstream key.")
    timeout_s: float = Field(default=60.0, gt=0)
    max_retries: int = Field(default=1, ge=0, description="Retries on this deployment before falling back.")
    pricing_model: str | None = Field(default=None, description="Name in the pricing table, if not `model`.")
    dialect: Literal["openai", "llama_cpp"] = Field(
        default="openai",
        description="What an openai_compatible server understands. `llama_cpp` (llama-cpp-python's server, which "
        "answers 500 to what it cannot parse) gets response_format json_schema as json_object with a `schema`, and "
        "`developer` messages as `system`.",
    )

    def api_key(self) -> str:
        return os.environ.get(self.api_key_env, "") if self.api_key_env else ""


class Team(BaseModel):
    name: str
    key_sha256: list[str] = Field(description="sha256 hex of each API key; keys are never stored in clear.")
    budget_usd: float | None = Field(default=None, ge=0, description="Spend limit; None means unlimited.")
    requests_per_minute: int | None = Field(default=None, ge=1)
    models: list[str] | None = Field(
        default=None, description="Models (aliases or deployments) the team may use; None: every one. Others: 403."
    )


VERIFIER = REPO_ROOT / "deploy" / "gateway" / "verifier" / "verifier.json"


class SemanticCacheConfig(BaseModel):
    """Answers reused for a question that means the same as one answered before."""

    model_config = ConfigDict(extra="forbid")

    aliases: list[str] = Field(
        min_length=1, description="Models (aliases or deployments) it serves; others never embed or look up anything."
    )
    threshold: float = Field(
        default=None, gt=0, le=1, validate_default=False,
        description="Lowest cosine similarity of a cached question to the asked one. With a verifier it makes a "
        "candidate, which the verifier then accepts or refuses (default 0.60: its lowest gate, where it serves "
        "only the same words); without one it is served as a hit (default 0.95). Lower: more hits, and without a "
        "verifier more wrong answers (`ladle bench semantic-cache` prints the curve).",
    )  # fmt: skip
    verifier: Path | None = Field(
        default=VERIFIER,
        description="The verifier's artifact (relative paths: to the repository), which must agree that the two "
        "questions have the same answer before one is served; null: none (the cosine threshold alone decides, "
        "which serves wrong answers to near misses such as open/closed or 14/40 days).",
    )
    candidates: int = Field(
        default=3, ge=1, le=16,
        description="Closest entries at or above the threshold that the verifier may check, best first; the first "
        "it accepts is served. More: a paraphrase behind a refused near miss is found; each costs ~0.2 ms.",
    )  # fmt: skip
    ttl_s: float = Field(default=3600.0, gt=0, description="Older entries are never served, and are evicted.")
    max_entries: int = Field(
        default=50_000,
        ge=1,
        description="The oldest entries are evicted above this; a lookup scans its scope's entries.",
    )
    model: str = Field(default="all-minilm-l6-v2", description="The encoder; the bundled MiniLM never downloads.")

    @model_validator(mode="after")
    def _threshold_for_the_decision(self) -> SemanticCacheConfig:
        if self.threshold is None:
            self.threshold = 0.95 if self.verifier is None else 0.60
        if self.verifier is not None and not self.verifier.is_absolute():
            self.verifier = REPO_ROOT / self.verifier
        return self


class RouteGuardrails(BaseModel):
    """Guardrail policies (names from the policy file) on one alias's requests and answers."""

    model_config = ConfigDict(extra="forbid")

    input: str | None = Field(default=None, description="Policy on the user messages, before the upstream call.")
    output: str | None = Field(
        default=None, description="Policy on the answer before it is returned; a streamed answer is buffered first."
    )
    on_review: Literal["allow", "block"] = Field(
        default="allow", description="A `review` verdict: allow passes (and records it), block refuses like reject."
    )

    @model_validator(mode="after")
    def _some_policy(self) -> RouteGuardrails:
        if self.input is None and self.output is None:
            raise ValueError("a guardrails entry needs an `input` or an `output` policy")
        return self


class GuardrailsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    policy_file: Path | None = Field(default=None, description="Default: deploy/guardrails/policies.yaml.")
    aliases: dict[str, RouteGuardrails] = Field(min_length=1, description="Model (alias or deployment) -> policies.")


class GatewayConfig(BaseModel):
    deployments: list[Deployment]
    aliases: dict[str, list[str]] = Field(description="Model alias -> deployments tried in order.")
    teams: list[Team] = Field(default_factory=list)
    breaker_failures: int = Field(default=3, ge=1, description="Consecutive failures that open a deployment's circuit.")
    breaker_cooldown_s: float = Field(default=30.0, gt=0)
    exact_cache_ttl_s: float = Field(default=3600.0, ge=0)
    exact_cache_entries: int = Field(default=100_000, ge=0)
    semantic_cache: SemanticCacheConfig | None = None
    guardrails: GuardrailsConfig | None = None

    @model_validator(mode="after")
    def _aliases_name_deployments(self) -> GatewayConfig:
        known = {d.name for d in self.deployments}
        for alias, names in self.aliases.items():
            missing = [n for n in names if n not in known]
            if missing or not names:
                raise ValueError(f"alias {alias!r} names unknown deployments {missing or names}")
        models = known | set(self.aliases)
        named = [("semantic_cache.aliases", self.semantic_cache.aliases if self.semantic_cache else []),
                 ("guardrails.aliases", list(self.guardrails.aliases) if self.guardrails else []),
                 *((f"teams.{t.name}.models", t.models) for t in self.teams if t.models)]  # fmt: skip
        for where, names in named:
            if missing := [n for n in names if n not in models]:
                raise ValueError(f"{where} names unknown models {missing}; known: {sorted(models)}")
        return self

    def deployment(self, name: str) -> Deployment:
        return next(d for d in self.deployments if d.name == name)

    @classmethod
    def load(cls, path: Path) -> GatewayConfig:
        if not path.exists():
            raise UserError(f"gateway config {path} not found; set LADLE_GATEWAY_CONFIG_FILE")
        data = yaml.safe_load(expand_env(path.read_text(), str(path))) or {}
        try:
            return cls.model_validate(data)
        except ValueError as exc:
            from shared.runtime.codec import one_line

            raise UserError(f"{path}: {one_line(exc)}") from None


_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def expand_env(text: str, where: str = "gateway config") -> str:
    """`${VAR}` and `${VAR:-default}` from the environment, so one file serves a laptop and compose."""

    def sub(m: re.Match) -> str:
        value = os.environ.get(m.group(1))
        if value:
            return value
        if m.group(2) is None:
            raise UserError(f"{where}: ${{{m.group(1)}}} is not set and has no default")
        return m.group(2)

    return _VAR.sub(sub, text)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()
