"""Every topic Ladle uses, in one place. `ladle topics apply` makes the broker match it.

Names here are logical; a deployment may put a prefix in front of all of them
(``LADLE_TOPIC_PREFIX``), which keeps test runs and tenants apart on one broker.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from operator import attrgetter

from schemas import (
    CatalogChange,
    CatalogEmbedded,
    DeadLetter,
    EnrichmentResult,
    EvalItem,
    EvalRun,
    Event,
    FineTuneJob,
    GuardedResult,
    GuardrailVerdict,
    LLMCall,
    PromptState,
    ReviewDecision,
)

DAY_MS = 24 * 3600 * 1000
DLQ_SUFFIX = ".dlq"


@dataclass(frozen=True)
class TopicSpec:
    name: str
    value_model: type[Event]
    key_field: str
    partitions: int = 3
    replication_factor: int = 1
    retention_ms: int = 7 * DAY_MS  # -1 keeps forever
    cleanup_policy: str = "delete"  # or "compact"
    max_message_bytes: int = 1_048_588  # the broker's default
    dlq: bool = True  # has a <name>.dlq sibling; False for the DLQ topics themselves
    key_required: bool = True
    extra_configs: dict[str, str] = field(default_factory=dict)

    def configs(self) -> dict[str, str]:
        """Topic-level configs as the broker names them; `apply` makes them match."""
        out = {
            "cleanup.policy": self.cleanup_policy,
            "retention.ms": str(self.retention_ms),
            "max.message.bytes": str(self.max_message_bytes),
        }
        out.update(self.extra_configs)
        return out

    def dlq_spec(self) -> TopicSpec:
        # A dead letter carries the raw bytes (base64, so 4/3 larger) plus the reason.
        return TopicSpec(
            name=self.name + DLQ_SUFFIX,
            value_model=DeadLetter,
            key_field="original_key",
            partitions=1,
            replication_factor=self.replication_factor,
            retention_ms=30 * DAY_MS,
            max_message_bytes=max(self.max_message_bytes * 2, 2_097_152),
            dlq=False,
            key_required=False,  # the original may have had no key; that is why it is here
        )


_BASE = [
    TopicSpec("catalog.changes", CatalogChange, "item_id", partitions=6, retention_ms=7 * DAY_MS),
    TopicSpec("catalog.embedded", CatalogEmbedded, "item_id", partitions=3),
    TopicSpec("enrichment.results", EnrichmentResult, "item_id", partitions=6),
    TopicSpec("enrichment.accepted", GuardedResult, "result.item_id", partitions=6),
    TopicSpec("enrichment.review", GuardedResult, "result.item_id", partitions=6),
    TopicSpec("enrichment.rejected", GuardedResult, "result.item_id", partitions=6),
    TopicSpec("guardrail.verdicts", GuardrailVerdict, "subject_id", partitions=3),
    TopicSpec("llm.calls", LLMCall, "call_id", partitions=6),
    TopicSpec(
        "prompts",
        PromptState,
        "name",
        partitions=1,
        retention_ms=-1,
        cleanup_policy="compact",
        extra_configs={"min.cleanable.dirty.ratio": "0.1"},
    ),
    # Evaluation runs and their per-row outcomes (`ladle eval run`), kept a month for the sink.
    TopicSpec("eval.runs", EvalRun, "run_id", partitions=1, retention_ms=30 * DAY_MS),
    TopicSpec("eval.items", EvalItem, "run_id", partitions=3, retention_ms=30 * DAY_MS),
    # A person's decisions on enrichment.review (the console): labels, so kept for good.
    TopicSpec("review.decisions", ReviewDecision, "item_id", partitions=3, retention_ms=-1),
    # Fine-tuning jobs' statuses and progress (`ladle finetune`, the gateway's /v1/fine_tuning/jobs).
    TopicSpec("finetune.jobs", FineTuneJob, "job_id", partitions=1, retention_ms=30 * DAY_MS),
]

TOPICS: dict[str, TopicSpec] = {}
for _spec in _BASE:
    TOPICS[_spec.name] = _spec
    if _spec.dlq:
        TOPICS[_spec.name + DLQ_SUFFIX] = _spec.dlq_spec()


def spec(name: str) -> TopicSpec:
    """The spec of a logical topic name; unknown names are a user error."""
    try:
        return TOPICS[name]
    except KeyError:
        known = ", ".join(sorted(TOPICS))
        raise KeyError(f"unknown topic {name!r}; known topics: {known}") from None


def key_of(spec_: TopicSpec, value: Event) -> str | None:
    """The value's key field (dotted path), the key a message of this topic must carry."""
    getter = _getters.get(spec_.key_field) or _getters.setdefault(spec_.key_field, attrgetter(spec_.key_field))
    try:
        key = getter(value)
    except AttributeError:  # an optional parent is None
        return None
    return None if key is None else str(key)


_getters: dict[str, attrgetter] = {}


@dataclass(frozen=True)
class Namespace:
    """Maps logical names to physical ones on the broker (a prefix) and back."""

    prefix: str = ""

    def physical(self, logical: str) -> str:
        return self.prefix + logical

    def logical(self, physical: str) -> str:
        return physical[len(self.prefix) :] if self.prefix and physical.startswith(self.prefix) else physical
