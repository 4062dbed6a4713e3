"""A trained cascade's card (card.json beside its weights): what it answers, with which
thresholds, what it was trained on and how it scored on validation. Plain JSON, so a person
or another language reads it; ``ladle cascade show`` prints it."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.base import utcnow

# Who a label comes from, most trusted first: a person's review decision, a golden set, an LLM
# answer the guardrails accepted. Where sources disagree on an item's field, the first wins.
SourceKind = Literal["review", "golden", "accepted"]
TRUST: dict[str, int] = {"review": 3, "golden": 2, "accepted": 1}


class LabelSource(BaseModel):
    kind: SourceKind
    name: str = Field(description="Dataset name or file, or the topic read.")
    sha256: str = Field(description="Of the file; for a topic, of the labels read from it.")
    rows: int = Field(ge=0, description="Rows (or events) read.")
    items: int = Field(ge=0, description="Items whose labels came from this source after the trust order.")


class FieldValidation(BaseModel):
    """Out-of-fold scores on the training labels (each item scored by a model that did not see it)."""

    labels: int = Field(ge=0, description="Items with a label for this field.")
    coverage: float = Field(description="Share of them the classifier is sure of at the threshold(s).")
    precision: float | None = Field(description="Exact-match rate of the sure answers (None: none sure).")
    accuracy: float = Field(description="Exact-match rate of the classifier's best answer on every item.")
    macro_f1: float


class FieldCard(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["one", "many"]
    values: list[str] = Field(description="one: the values it can answer; many: one binary model per value.")
    max_items: int | None = None
    threshold: float | None = Field(default=None, description="one: least calibrated probability to answer.")
    yes: dict[str, float | None] = Field(default_factory=dict, description="many: least p(value) to include it.")
    no: dict[str, float | None] = Field(default_factory=dict, description="many: most p(value) to leave it out.")
    validation: FieldValidation | None = None


class CascadeCard(BaseModel):
    name: str = Field(min_length=1)
    version: int = Field(ge=1)
    use_case: str
    task: str
    taxonomy_version: str
    encoder: str = Field(description="The sentence encoder whose vectors the weights read.")
    dim: int = Field(ge=1)
    text: str = Field(description="The recipe of the embedded text (shared/cascade/text.py).")
    target_precision: float = Field(gt=0, le=1)
    fields: dict[str, FieldCard]
    sources: list[LabelSource] = Field(default_factory=list)
    items: int = Field(default=0, ge=0, description="Training items after merging the sources.")
    item_coverage: float | None = Field(
        default=None, description="Validation: share of items the classifier is sure of on every labelled field."
    )
    params: dict = Field(default_factory=dict, description="Training parameters (C, folds, calibration, features).")
    weights_sha256: str = ""
    created_at: datetime = Field(default_factory=utcnow)
    created_by: str = ""

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"
