"""A finished job -> its EnrichmentResult and one LLMCall per model call, priced.

Ids are deterministic: the result's from item, version, task, prompt and model
(its schema's own rule), each call's from the result's id and the attempt
number, so a replay publishes the same ids and consumers deduplicate.

A cascade's classifier is priced by its seconds on the enricher's CPU (``ladle-cascade`` in
the pricing table); an item it answered whole has no LLMCall, since no model was called.
"""

from __future__ import annotations

import json

from schemas import EnrichmentResult, LLMCall, Usage, stable_id
from shared.pricing import Pricing
from shared.prompts.sources import Prompt
from workers.enricher import metrics
from workers.enricher.engines.base import EngineRequest
from workers.enricher.jobs import Attempt, Job, Screened
from workers.enricher.settings import UseCase

CASCADE_PRICING = "ladle-cascade"


class EventFactory:
    def __init__(
        self, use_case: UseCase, prompt: Prompt, pricing: Pricing, *, mode: str, team: str, log_bodies: bool,
        cascade: str | None = None,
    ) -> None:  # fmt: skip
        self.use_case = use_case
        self.prompt = prompt
        self.pricing = pricing
        self.mode = mode
        self.team = team
        self.log_bodies = log_bodies
        self._pricing_model = use_case.pricing_model or use_case.model
        self._provider = use_case.provider or use_case.engine
        self._deployment = f"{use_case.engine}/{use_case.model}"
        self.cascade = cascade

    def events(self, job: Job, tags: dict | None) -> tuple[EnrichmentResult, list[LLMCall]]:
        if job.screened is not None and not job.attempts:
            return self.classified(job, job.screened), []
        uc, change = self.use_case, job.change
        results = [a.result for a in job.attempts]
        result = EnrichmentResult(
            item_id=change.item_id,
            item_version=change.version,
            task=uc.task,
            output=tags or {},
            raw_output=results[-1].text,
            item_text=job.item_text,
            engine=uc.engine,
            model=uc.model,
            prompt=self.prompt.ref,
            usage=Usage(
                input_tokens=sum(r.input_tokens for r in results),
                output_tokens=sum(r.output_tokens for r in results),
                cached_input_tokens=sum(r.cached_input_tokens for r in results),
            ),
            latency_ms=sum(r.latency_ms for r in results),
            ttft_ms=results[0].ttft_ms,
            attempts=len(results),
            mode=self.mode,
            trace_id=change.trace_id or change.event_id,
        )
        calls = [self.call(result, i, a) for i, a in enumerate(job.attempts, start=1)]
        costs = [c.cost_usd for c in calls]
        s = job.screened
        if s is not None:
            result.cascade = self.cascade
            result.answered_by = {f: f"cascade/{self.cascade}" if f in s.answers else self._deployment
                                  for f in (tags or {})}  # fmt: skip
            result.latency_ms += s.seconds * 1000
            costs.append(self.pricing.cost_for(CASCADE_PRICING, Usage(), s.seconds))
            _answered(uc, result.answered_by)
        if all(c is not None for c in costs):  # every attempt cost money: the result carries the total
            result.cost_usd = sum(costs)
            result.pricing_version = self.pricing.version
        return result, calls

    def classified(self, job: Job, s: Screened) -> EnrichmentResult:
        """The result of an item the classifier answered whole: no model call. It names the use case's
        prompt all the same: its variables say what item_text shows (`ladle check` relies on that)."""
        change, by = job.change, f"cascade/{self.cascade}"
        cost = self.pricing.cost_for(CASCADE_PRICING, Usage(), s.seconds)
        result = EnrichmentResult(
            item_id=change.item_id,
            item_version=change.version,
            task=self.use_case.task,
            output=dict(s.answers),
            raw_output=json.dumps(s.answers),
            item_text=job.item_text,
            engine="cascade",
            model=self.cascade,
            prompt=self.prompt.ref,
            latency_ms=s.seconds * 1000,
            cost_usd=cost,
            pricing_version=self.pricing.version if cost is not None else None,
            mode=self.mode,
            trace_id=change.trace_id or change.event_id,
            cascade=self.cascade,
            answered_by=dict.fromkeys(s.answers, by),
        )
        _answered(self.use_case, result.answered_by)
        return result

    def call(self, result: EnrichmentResult, attempt: int, a: Attempt) -> LLMCall:
        uc, res, problem = self.use_case, a.result, a.problem
        usage = Usage(
            input_tokens=res.input_tokens, output_tokens=res.output_tokens, cached_input_tokens=res.cached_input_tokens
        )
        # Self-hosted engines that hold the machine alone (llama.cpp) report busy seconds: CPU
        # or GPU time x price. Others are priced per token, or from the measured throughput.
        cost = self.pricing.cost_for(self._pricing_model, usage, res.busy_s)
        _observe(uc, res, problem, cost)
        return LLMCall(
            call_id=stable_id(result.event_id, attempt),
            team=self.team,
            use_case=uc.name or uc.task,
            model=uc.model,
            deployment=self._deployment,
            provider=self._provider,
            prompt=result.prompt,
            usage=usage,
            cost_usd=cost,
            pricing_version=self.pricing.version if cost is not None else None,
            latency_ms=res.latency_ms,
            ttft_ms=res.ttft_ms,
            cache_status="bypass",  # the enricher calls engines directly, past any cache
            status="error" if res.status == "ok" and problem else res.status,
            error=None if problem is None else problem[:1000],
            request_body=_body(a.request) if self.log_bodies else None,
            response_body=res.text if self.log_bodies else None,
            trace_id=result.trace_id,
        )


def _observe(uc: UseCase, res, problem: str | None, cost: float | None) -> None:
    label = "ok" if problem is None else ("malformed" if res.status == "ok" else res.status)
    metrics.CALLS.labels(uc.name, uc.model, label).inc()
    metrics.TOKENS.labels(uc.model, "input").inc(res.input_tokens)
    metrics.TOKENS.labels(uc.model, "output").inc(res.output_tokens)
    metrics.LATENCY.labels(uc.engine).observe(res.latency_ms / 1000)
    if res.ttft_ms is not None:
        metrics.TTFT.labels(uc.engine).observe(res.ttft_ms / 1000)
    if cost:
        metrics.COST.labels(uc.model).inc(cost)


def _answered(uc: UseCase, answered_by: dict[str, str]) -> None:
    by_classifier = sum(v.startswith("cascade/") for v in answered_by.values())
    metrics.ANSWERED.labels(uc.name, "classifier").inc(by_classifier)
    metrics.ANSWERED.labels(uc.name, "engine").inc(len(answered_by) - by_classifier)


def _body(req: EngineRequest) -> str:
    return json.dumps({"messages": req.messages, "max_tokens": req.max_tokens, "temperature": req.temperature})
