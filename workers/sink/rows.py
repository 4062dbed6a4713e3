"""Event -> row tuples, one function per table, in the column order of `tables.py`.

Pure Python, no ClickHouse: a row is a tuple of plain values, and the Arrow
conversion in `tables.py` gives every column its type. Values that ClickHouse
would silently mangle (timestamps outside DateTime's range) raise here, so the
record is dead-lettered instead of landing wrong.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from schemas import (
    CatalogEmbedded,
    DeadLetter,
    EnrichmentResult,
    EvalItem,
    EvalRun,
    FineTuneJob,
    GuardedResult,
    GuardrailVerdict,
    LLMCall,
    ReviewDecision,
)
from workers.sink.costing import CACHE_HITS, RowContext, cost

_MIN_YEAR, _MAX_YEAR = 1970, 2105  # DateTime (TTL) and DateTime64 both hold these


def ts(value: datetime) -> datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    if not _MIN_YEAR <= value.year <= _MAX_YEAR:
        raise ValueError(f"timestamp {value.isoformat()} is outside {_MIN_YEAR}..{_MAX_YEAR}")
    return value


def split_output(output: dict) -> tuple[list[str], dict[str, str], str]:
    """A result's output as (tags, attributes, JSON text). Tags given as a mapping
    become 'key:value' strings; every other key becomes an attribute."""
    raw_tags = output.get("tags")
    if isinstance(raw_tags, dict):
        tags = [f"{k}:{v}" for k, v in raw_tags.items()]
    elif isinstance(raw_tags, list):
        tags = [t if isinstance(t, str) else json.dumps(t, sort_keys=True) for t in raw_tags]
    else:
        tags = []
    attributes = {
        str(k): v if isinstance(v, str) else json.dumps(v, sort_keys=True, ensure_ascii=False, default=str)
        for k, v in output.items()
        if k != "tags"
    }
    return tags, attributes, json.dumps(output, sort_keys=True, ensure_ascii=False, default=str)


def _envelope(e: Any) -> tuple:
    return (e.event_id, ts(e.occurred_at), e.schema_version, e.trace_id or "")


def llm_call_row(e: LLMCall, ctx: RowContext) -> tuple:
    p, u = e.prompt, e.usage
    c, source, version = cost(ctx, e.model, u, e.cost_usd, e.pricing_version, e.cache_status in CACHE_HITS)
    return (
        *_envelope(e), e.call_id, e.team, e.use_case, e.model, e.deployment, e.provider,
        p.name if p else "", p.version if p else 0, (p.label or "") if p else "",
        u.input_tokens, u.output_tokens, u.cached_input_tokens, c, source, version,
        e.latency_ms, e.ttft_ms, e.cache_status, e.fallback_chain, e.status, e.error or "",
        e.request_body, e.response_body, e.semantic_score, e.semantic_verifier_score, e.semantic_verdict or "",
    )  # fmt: skip


def enrichment_result_row(e: EnrichmentResult, ctx: RowContext) -> tuple:
    # enrichment.results is what an LLM wrote before guardrails looked at it: only its
    # usage, cost and tags (taxonomy values) land here. Free text (raw output, string
    # attributes, the output JSON) lands from enrichment.accepted|review|rejected,
    # after redaction, so unredacted text never reaches ClickHouse.
    p, u = e.prompt, e.usage
    tags, _, _ = split_output(e.output)
    c, source, version = cost(ctx, e.model, u, e.cost_usd, e.pricing_version)
    return (
        *_envelope(e), e.item_id, e.item_version, e.task, tags, {}, "", "",
        e.engine, e.model, p.name if p else "", p.version if p else 0, (p.label or "") if p else "",
        u.input_tokens, u.output_tokens, u.cached_input_tokens, e.latency_ms, e.ttft_ms,
        c, source, version, e.attempts, e.mode, e.cascade or "", dict(e.answered_by),
    )  # fmt: skip


def guarded_result_row(e: GuardedResult, ctx: RowContext) -> tuple:
    r, v = e.result, e.verdict
    tags, attributes, _ = split_output(r.output)
    return (
        *_envelope(e), e.route, r.event_id, r.item_id, r.item_version, r.task, r.model,
        r.prompt.name if r.prompt else "", r.prompt.version if r.prompt else 0, tags, attributes,
        v.event_id, v.policy, v.policy_version, v.action, [c.check for c in v.checks if not c.passed],
    )  # fmt: skip


def guardrail_verdict_row(e: GuardrailVerdict, ctx: RowContext) -> tuple:
    checks = e.checks
    return (
        *_envelope(e), e.subject_id, e.subject_kind, e.policy, e.policy_version, e.action, e.latency_ms,
        e.team or "", e.use_case or "",
        [c.check for c in checks], [c.passed for c in checks], [c.score for c in checks],
        [c.action for c in checks], [c.detail for c in checks], [c.latency_ms for c in checks],
    )  # fmt: skip


def catalog_embedded_row(e: CatalogEmbedded, ctx: RowContext) -> tuple:
    return (
        *_envelope(e), e.op, e.item_id, e.version, e.model, e.collection, e.content_hash, e.skipped,
        e.freshness_ms, ts(e.embedded_at),
    )  # fmt: skip


def dead_letter_row(e: DeadLetter, ctx: RowContext) -> tuple:
    return (
        *_envelope(e), ctx.topic, e.original_topic, e.original_partition, e.original_offset, e.original_key,
        e.error_class, e.error_message, e.raw_value_b64, e.raw_size, e.truncated, e.worker, e.source,
    )  # fmt: skip


def eval_run_row(e: EvalRun, ctx: RowContext) -> tuple:
    p = e.prompt
    return (
        *_envelope(e), e.run_id, e.use_case, e.task, e.dataset, e.dataset_sha256, p.name if p else "",
        p.version if p else 0, e.model, e.engine, e.cascade or "", e.adapter or "", e.items, e.failed_rows,
        [m.field for m in e.metrics], [m.metric for m in e.metrics], [m.value for m in e.metrics],
        ts(e.started_at), e.seconds, e.cost_usd, e.status,
    )  # fmt: skip


def finetune_job_row(e: FineTuneJob, ctx: RowContext) -> tuple:
    return (
        *_envelope(e), e.job_id, e.kind, e.status, e.use_case, e.base_model, list(e.training_files),
        json.dumps(e.hyperparameters, sort_keys=True, default=str), e.fine_tuned_model or "", e.step, e.steps, e.loss,
        e.trained_tokens, e.tokens_per_s, e.eta_s, e.machine_s, e.message, e.error or "", e.owner, e.team,
    )  # fmt: skip


def _values(answer: dict | None) -> dict[str, list[str]]:
    return {k: [str(x) for x in v] if isinstance(v, list) else [str(v)] for k, v in (answer or {}).items()}


def eval_item_row(e: EvalItem, ctx: RowContext) -> tuple:
    return (
        *_envelope(e), e.run_id, e.row, e.item_id, _values(e.expected), _values(e.predicted),
        e.predicted is not None, dict(e.correct), e.route, dict(e.answered_by), e.llm_calls, e.latency_ms,
        e.cost_usd, e.error or "",
    )  # fmt: skip


def _json(value: dict) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def review_decision_row(e: ReviewDecision, ctx: RowContext) -> tuple:
    return (
        *_envelope(e), e.reviewer, ts(e.decided_at), e.action, e.item_id, e.item_version, e.task, e.result_event_id,
        e.guarded_event_id, e.route, _json(e.before), _json(e.after), e.changed_fields(), e.failed_checks, e.note,
    )  # fmt: skip
