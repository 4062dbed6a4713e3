"""Event models, one module per topic family. JSON on the wire."""

from schemas.base import Event, stable_id
from schemas.catalog import CatalogChange, CatalogEmbedded, CatalogItem
from schemas.dlq import DeadLetter
from schemas.enrichment import EnrichmentResult, GuardedResult, PromptRef, Usage
from schemas.eval import EvalItem, EvalMetric, EvalRun
from schemas.finetune import FineTuneJob
from schemas.guardrails import CheckOutcome, GuardrailVerdict
from schemas.llm import LLMCall
from schemas.prompts import PromptState, PromptVersion
from schemas.review import ReviewDecision

EVENT_MODELS: dict[str, type[Event]] = {
    m.__name__: m
    for m in (
        CatalogChange,
        CatalogEmbedded,
        EnrichmentResult,
        GuardedResult,
        GuardrailVerdict,
        LLMCall,
        PromptState,
        DeadLetter,
        EvalRun,
        EvalItem,
        ReviewDecision,
        FineTuneJob,
    )
}

__all__ = [
    "EVENT_MODELS",
    "CatalogChange",
    "CatalogEmbedded",
    "CatalogItem",
    "CheckOutcome",
    "DeadLetter",
    "EnrichmentResult",
    "EvalItem",
    "EvalMetric",
    "EvalRun",
    "Event",
    "FineTuneJob",
    "GuardedResult",
    "GuardrailVerdict",
    "LLMCall",
    "PromptRef",
    "PromptState",
    "PromptVersion",
    "ReviewDecision",
    "Usage",
    "stable_id",
]
