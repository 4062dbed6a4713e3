"""A small, known set of events of every sink topic, dated in the last few days.

The tests land it and check the analyst questions against numbers worked out by
hand (written next to each question in `queries.py`); `ladle` demos can land it
to show the reports on an empty store.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schemas import (
    CatalogEmbedded,
    CheckOutcome,
    DeadLetter,
    EnrichmentResult,
    Event,
    GuardedResult,
    GuardrailVerdict,
    LLMCall,
    PromptRef,
    Usage,
)


def day0(now: datetime | None = None) -> datetime:
    """Midnight UTC three days ago: every sample event falls on day0 or day0 + 1."""
    now = now or datetime.now(UTC)
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=3)


def llm_calls(d0: datetime) -> list[LLMCall]:
    d1 = d0 + timedelta(days=1)
    mini, haiku, qwen = "gpt-4o-mini", "claude-3-5-haiku", "qwen2.5-0.5b-instruct"
    sq = {"team": "search", "use_case": "query_rewrite"}
    ct = {"team": "catalog", "use_case": "tagging"}
    u = Usage
    return [
        LLMCall(call_id="c1", **sq, model=mini, provider="openai", usage=u(input_tokens=1000, output_tokens=200),
                latency_ms=400, ttft_ms=100, occurred_at=d0.replace(hour=10), request_body="rewrite: vegan pho",
                response_body="vegan pho noodle soup", fallback_chain=["openai-mini"]),
        LLMCall(call_id="c2", **sq, model=mini, provider="openai",
                usage=u(input_tokens=2000, output_tokens=100, cached_input_tokens=1000),
                latency_ms=600, ttft_ms=200, occurred_at=d0.replace(hour=11), fallback_chain=["openai-mini"]),
        LLMCall(call_id="c3", **sq, model=mini, provider="openai", usage=u(input_tokens=1000, output_tokens=200),
                latency_ms=5, cache_status="exact_hit", occurred_at=d0.replace(hour=12)),
        LLMCall(call_id="c4", **sq, model=mini, provider="openai", latency_ms=20, cache_status="semantic_hit",
                occurred_at=d1.replace(hour=9)),
        LLMCall(call_id="c5", **sq, model=haiku, provider="anthropic", usage=u(input_tokens=1000, output_tokens=500),
                latency_ms=800, ttft_ms=300, occurred_at=d1.replace(hour=10),
                fallback_chain=["openai-mini", "anthropic-haiku"], prompt=PromptRef(name="rewrite", version=1)),
        LLMCall(call_id="c6", **ct, model=qwen, provider="llamacpp", usage=u(input_tokens=300, output_tokens=50),
                latency_ms=1000, ttft_ms=150, occurred_at=d0.replace(hour=13), prompt=PromptRef(name="tag", version=2)),
        LLMCall(call_id="c7", **ct, model=qwen, provider="llamacpp", usage=u(input_tokens=300, output_tokens=100),
                latency_ms=2000, ttft_ms=160, occurred_at=d0.replace(hour=14), prompt=PromptRef(name="tag", version=2)),
        LLMCall(call_id="c8", **ct, model=mini, provider="openai", usage=u(input_tokens=10, output_tokens=10),
                cost_usd=0.5, pricing_version="gw-1", latency_ms=300, ttft_ms=90, occurred_at=d1.replace(hour=11)),
        LLMCall(call_id="c9", **ct, model=mini, provider="openai", status="error", error="upstream 500",
                latency_ms=1200, occurred_at=d1.replace(hour=12)),
        LLMCall(call_id="c10", **ct, model="mystery-model", provider="vllm", cache_status="bypass",
                usage=u(input_tokens=100, output_tokens=100), latency_ms=700, occurred_at=d1.replace(hour=13)),
    ]  # fmt: skip


def enrichment_results(d0: datetime) -> list[EnrichmentResult]:
    qwen = {
        "engine": "llamacpp",
        "model": "qwen2.5-0.5b-instruct",
        "prompt": PromptRef(name="tag", version=2, label="production"),
    }
    return [
        EnrichmentResult(item_id="i1", item_version=1, task="tag", output={"tags": ["vegan", "spicy"], "cuisine": "thai"},
                         raw_output='{"tags": ["vegan", "spicy"], "cuisine": "thai"}', **qwen,
                         usage=Usage(input_tokens=300, output_tokens=50), latency_ms=1000, occurred_at=d0.replace(hour=13)),
        EnrichmentResult(item_id="i2", item_version=1, task="tag", output={"tags": ["vegan"]}, **qwen,
                         usage=Usage(input_tokens=300, output_tokens=100), latency_ms=2000, occurred_at=d0.replace(hour=14)),
        EnrichmentResult(item_id="i3", item_version=3, task="tag", output={"tags": ["gluten_free", "spicy"]},
                         engine="openai", model="gpt-4o-mini", prompt=PromptRef(name="tag", version=3, label="canary"),
                         usage=Usage(input_tokens=1000, output_tokens=100), latency_ms=900, mode="batch",
                         occurred_at=d0.replace(hour=15)),
    ]  # fmt: skip


def verdicts(d0: datetime, results: list[EnrichmentResult]) -> list[GuardrailVerdict]:
    ok = CheckOutcome
    tag = {
        "subject_kind": "enrichment_result",
        "policy": "tagging",
        "policy_version": "p1",
        "team": "catalog",
        "use_case": "tagging",
    }
    return [
        GuardrailVerdict(subject_id=results[0].event_id, **tag, action="accept", latency_ms=5, occurred_at=d0.replace(hour=16),
                         checks=[ok(check="schema", passed=True), ok(check="injection", passed=True, score=0.01),
                                 ok(check="allowed_tags", passed=True)]),
        GuardrailVerdict(subject_id=results[1].event_id, **tag, action="review", latency_ms=7, occurred_at=d0.replace(hour=16),
                         checks=[ok(check="schema", passed=True), ok(check="injection", passed=False, score=0.6, action="review"),
                                 ok(check="allowed_tags", passed=False, action="review", detail="unknown tag")]),
        GuardrailVerdict(subject_id=results[2].event_id, **tag, action="reject", latency_ms=9, occurred_at=d0.replace(hour=16),
                         checks=[ok(check="schema", passed=True),
                                 ok(check="injection", passed=False, score=0.97, action="reject")]),
        GuardrailVerdict(subject_id="req-1", subject_kind="gateway_request", policy="gateway", policy_version="g1",
                         team="search", use_case="query_rewrite", action="redact", latency_ms=2,
                         occurred_at=d0.replace(hour=17), checks=[ok(check="pii", passed=False, action="redact")]),
    ]  # fmt: skip


def embedded(d0: datetime) -> list[CatalogEmbedded]:
    common = {"model": "minilm-l6", "collection": "catalog"}
    out = [
        CatalogEmbedded(op="upsert", item_id=f"i{n}", version=1, freshness_ms=ms, skipped=(ms == 100), **common,
                        occurred_at=d0.replace(hour=10), embedded_at=d0.replace(hour=10) + timedelta(milliseconds=ms))
        for n, ms in enumerate([100, 200, 300, 400, 500], start=1)
    ]  # fmt: skip
    out.append(CatalogEmbedded(op="delete", item_id="i9", version=2, freshness_ms=50, **common,
                               occurred_at=d0.replace(hour=11), embedded_at=d0.replace(hour=11)))  # fmt: skip
    return out


def dead_letters(d0: datetime) -> list[tuple[str, DeadLetter]]:
    return [
        ("llm.calls.dlq", DeadLetter(original_topic="llm.calls", original_partition=0, original_offset=10,
                                     error_class="ValidationError", error_message="model: field required",
                                     raw_value_b64="e30=", raw_size=120, worker="sink", occurred_at=d0.replace(hour=9))),
        ("llm.calls.dlq", DeadLetter(original_topic="llm.calls", original_partition=0, original_offset=11,
                                     error_class="ValidationError", error_message="provider: field required",
                                     raw_size=80, worker="sink", occurred_at=d0.replace(hour=9))),
        ("enrichment.results.dlq", DeadLetter(original_topic="enrichment.results", original_partition=2,
                                              original_offset=5, error_class="JSONDecodeError",
                                              error_message="Expecting value: line 1 column 1", raw_size=30,
                                              worker="guardrails", occurred_at=d0.replace(hour=9))),
    ]  # fmt: skip


def sample_events(now: datetime | None = None) -> list[tuple[str, Event]]:
    """(logical topic, event) for every sample event, in a stable order."""
    d0 = day0(now)
    results = enrichment_results(d0)
    vs = verdicts(d0, results)
    routes = ["accepted", "review", "rejected"]
    guarded = [
        (f"enrichment.{route}", GuardedResult(result=r, verdict=v, route=route, occurred_at=v.occurred_at))
        for r, v, route in zip(results, vs, routes, strict=False)
    ]
    return [
        *[("llm.calls", e) for e in llm_calls(d0)],
        *[("enrichment.results", e) for e in results],
        *[("guardrail.verdicts", e) for e in vs],
        *guarded,
        *[("catalog.embedded", e) for e in embedded(d0)],
        *dead_letters(d0),
    ]
