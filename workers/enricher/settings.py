"""Settings of the enricher (env prefix LADLE_ENRICHER_) and its use cases (a YAML file).

A use case is what to run: task, engine, model, engine params, prompt, decoding
limits. The settings are how to run it: pool size, in-flight bounds, retries, Ray.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_settings import SettingsConfigDict

from shared.runtime.errors import UserError
from shared.settings import REPO_ROOT, WorkerSettings
from workers.enricher.engines.base import EngineName, EngineSpec


class ActorResources(BaseModel):
    model_config = ConfigDict(extra="forbid")

    num_cpus: float = Field(default=1.0, ge=0, description="Ray CPUs per engine actor.")
    num_gpus: float = Field(default=0.0, ge=0, description="GPUs per actor (vLLM: the tensor-parallel size).")


class Gate(BaseModel):
    """What a candidate (a prompt version, a model, an engine, a cascade or an adapter) must score
    on the use case's golden dataset before it reaches production."""

    model_config = ConfigDict(extra="forbid")

    dataset: str = Field(min_length=1, description="A dataset name (deploy/eval/datasets.yaml) or file.")
    metric: str = Field(default="macro_f1", description="A metric of `ladle eval run`.")
    field: str = Field(default="all", description="A taxonomy field, or all (the mean macro-F1 over fields).")
    min: float = Field(default=0.0, ge=0, le=1, description="The candidate's score may not be lower.")
    max_regression: float = Field(
        default=0.0, ge=0, description="A significant drop below production larger than this refuses the candidate."
    )
    limit: int | None = Field(default=None, ge=1, description="Score only the first N rows (slow engines).")


class UseCase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = ""
    task: str = "tag"
    engine: EngineName
    model: str = Field(min_length=1)
    params: dict = Field(default_factory=dict)
    prompt: str = Field(min_length=1, description="Prompt name in the registry (file or topic).")
    prompt_version: int | None = Field(default=None, description="Pin a version; default: the prompt_label's.")
    prompt_label: str = "production"
    taxonomy: Path = Field(default=REPO_ROOT / "deploy" / "enricher" / "taxonomy.yaml")
    max_tokens: int = Field(default=96, ge=1, description="Tag JSON is short; a low cap bounds a runaway output.")
    temperature: float = Field(default=0.0, ge=0)
    retry_temperature: float = Field(default=0.3, ge=0, description="Retries decode a little hotter to get unstuck.")
    pricing_model: str | None = Field(default=None, description="Name in the pricing table; default: model.")
    provider: str | None = Field(default=None, description="LLMCall.provider; default: the engine's name.")
    actor: ActorResources = Field(default_factory=ActorResources)
    chunk_size: int | None = Field(default=None, ge=1, description="Overrides the enricher's chunk_size.")
    gate: Gate | None = Field(default=None, description="The release gate of this use case's prompts and models.")
    cascade: str | None = Field(
        default=None,
        description="NAME@LABEL (or NAME@VERSION) of a cascade whose classifier answers first; the engine is "
        "called only for items with a field it is unsure of. Resolved when the enricher starts.",
    )
    cascade_ask: Literal["unsure", "all"] = Field(
        default="unsure",
        description="What the engine is asked for an item the classifier is unsure of: only the unsure fields "
        "(fewer output tokens, the classifier's answers stand) or every field (the classifier's sure ones still win).",
    )
    cascade_candidates: int = Field(
        default=0,
        ge=0,
        description="For an unsure `one` field, offer the engine only the classifier's N likeliest values (the "
        "prompt's list and the JSON schema's enum); 0: every value. Small models choose better among few.",
    )
    cascade_precision: float = Field(
        default=0.95,
        gt=0,
        le=1,
        description="Training: the precision on validation the thresholds are chosen for; "
        "higher sends more fields to the engine.",
    )
    cascade_near_duplicate: float | None = Field(
        default=0.85,
        gt=0,
        le=1,
        description="Training: validation keeps items at least this similar (cosine) in one fold, so thresholds "
        "hold for items unlike the labelled ones (a new dish); null: random folds, right when new items are drawn "
        "like the labelled ones.",
    )

    lora: str | None = Field(
        default=None,
        description="NAME@VERSION (or NAME@LABEL) of a fine-tuned LoRA adapter (`ladle finetune create`) the "
        "engine serves: llama.cpp loads its merged model, else the base with the adapter; vLLM names it per request.",
    )

    def engine_spec(self) -> EngineSpec:
        params = self.params if self.lora is None else {**self.params, "lora": self.lora}
        return EngineSpec(engine=self.engine, model=self.model, params=params)


def load_use_cases(path: str | Path) -> dict[str, UseCase]:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text()) or {}
        raw = data.get("use_cases") or {}
        return {name: UseCase.model_validate({**spec, "name": name}) for name, spec in raw.items()}
    except FileNotFoundError:
        raise UserError(f"use cases file {path} not found; set LADLE_ENRICHER_USE_CASES_FILE") from None
    except (yaml.YAMLError, ValidationError, AttributeError) as exc:
        raise UserError(f"use cases file {path} is invalid: {' '.join(str(exc).split())[:300]}") from None


class EnricherSettings(WorkerSettings):
    model_config = SettingsConfigDict(env_prefix="LADLE_ENRICHER_", extra="ignore")

    input_topic: str = "catalog.changes"
    # A model call takes ~1 s on CPU: small batches keep checkpoints (and replays) short.
    max_batch_size: int = Field(default=64, description="Changes per batch; each batch is tagged before commit.")
    max_batch_wait_s: float = Field(default=0.2, description="Longest wait to fill a batch.")
    max_poll_interval_ms: int = Field(default=900_000, description="Must exceed the slowest batch's tagging time.")

    use_cases_file: Path = Field(default=REPO_ROOT / "deploy" / "enricher" / "use_cases.yaml")
    use_case: str = Field(default="tag", description="Which use case this worker runs.")
    prompt_source: str = Field(
        default="auto",
        pattern="^(auto|topic|file)$",
        description="topic: the prompts topic (the registry `ladle prompts` writes); file: prompts_dir; "
        "auto: the topic's prompt when it has one, else the file.",
    )
    prompts_dir: Path = Field(default=REPO_ROOT / "deploy" / "prompts")
    pricing_file: Path | None = Field(default=None, description="Default: deploy/pricing/pricing.yaml.")
    team: str = Field(default="catalog", description="LLMCall.team for budgets and reports.")

    actors: int = Field(default=1, ge=1, description="Engine actors; each loads the model once.")
    chunk_size: int = Field(
        default=4, ge=1, description="Requests per actor call: larger amortises the call, smaller spreads load evenly."
    )
    max_in_flight: int = Field(
        default=0, ge=0, description="Actor calls in flight across the pool; 0 = 2 per actor (one running, one queued)."
    )
    max_actor_retries: int = Field(default=2, ge=0, description="Times a chunk moves to a fresh actor after a crash.")
    max_attempts: int = Field(
        default=3, ge=1, description="Model calls per item before malformed output is dead-lettered."
    )
    log_bodies: bool = Field(
        default=True, description="Put prompts and outputs on llm.calls (subject to the sink's TTL)."
    )

    ray_address: str | None = Field(
        default=None, description="A Ray cluster to join; RAY_ADDRESS also works. Empty: local."
    )
    ray_num_cpus: int | None = Field(default=None, description="CPUs of a local Ray; default: the machine's.")
    ray_worker_niceness: int | None = Field(
        default=None,
        description="OS priority of a local Ray's workers. Ray's default (15) lets every other service on the "
        "machine go first, which slows tagging under load; 0 gives the engines the same priority as the rest.",
    )
    state_dir: Path | None = Field(default=None, description="Default: data_dir/enricher.")

    def load_use_case(self, name: str | None = None) -> UseCase:
        cases = load_use_cases(self.use_cases_file)
        name = name or self.use_case
        if name not in cases:
            raise UserError(f"unknown use case {name!r}; {self.use_cases_file} has: {', '.join(cases) or 'none'}")
        return cases[name]
