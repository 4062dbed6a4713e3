"""`ladle eval run`: a use case's real path on every row of a golden dataset, scored.

The path is the enricher's own: the same cascade (a classifier that answers what it is sure
of), prompt rendering, engine, output parsing and retries (``Tagger``), then the use case's
guardrail policy, exactly as the streaming
worker and `ladle enrich` run them; only the transport differs (the engine is called in
this process instead of through Ray actors and Kafka). What the guardrails let through is
the answer that is scored: a tag they drop is not in it, a rejected result is no answer.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import structlog

from ladle.eval.datasets import Dataset, Row
from schemas import EvalItem, EvalMetric, EvalRun
from shared.evaluation import metrics as m
from shared.guardrails import Engine as Guardrails
from shared.guardrails import Subject, load_policies
from shared.settings import LadleSettings
from shared.taxonomy import Taxonomy
from workers.enricher.engines.base import EngineRequest, EngineResult
from workers.enricher.settings import EnricherSettings, UseCase
from workers.enricher.tagging import Tagger

log = structlog.get_logger(__name__)
Progress = Callable[[int, int], None]  # (rows done, rows)
CallEngine = Callable[[list[EngineRequest]], list[EngineResult]]


@dataclass
class Answer:
    """What the use case answered for one row."""

    predicted: dict | None
    route: str = ""
    answered_by: dict[str, str] = field(default_factory=dict)
    llm_calls: int = 0
    latency_ms: float = 0.0
    cost_usd: float = 0.0
    error: str | None = None


class UseCasePath:
    """A use case as the enricher runs it: prompt, engine, parsing, retries; then its guardrails."""

    def __init__(
        self,
        use_case: str,
        ladle: LadleSettings,
        *,
        prompt_version: int | None = None,
        cascade: str | None = None,
        settings: EnricherSettings | None = None,
        engine_call: CallEngine | None = None,
        guardrails: bool = True,
    ) -> None:
        from shared.pricing import Pricing
        from shared.prompts.sources import prompt_source, resolve
        from workers.enricher import load_cascade

        self.ladle = ladle
        self.settings = settings or EnricherSettings()
        self.use_case: UseCase = self.settings.load_use_case(use_case)
        uc = self.use_case
        source = prompt_source(self.settings.prompt_source, self.settings.prompts_dir, ladle)
        label = None if prompt_version is not None else uc.prompt_label
        version = prompt_version if prompt_version is not None else uc.prompt_version
        self.prompt = resolve(source, uc.prompt, version=version, label=label)
        self.taxonomy = Taxonomy.load(uc.taxonomy)
        self.cascade = load_cascade(uc, ladle, cascade)  # cascade "off": the use case without one
        self.tagger = Tagger(uc, self.prompt, self.taxonomy, Pricing.load(self.settings.pricing_file), mode="batch",
                             team=self.settings.team, max_attempts=self.settings.max_attempts, log_bodies=False,
                             cascade=self.cascade)  # fmt: skip
        self._call = engine_call
        self._engine = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.guardrails = Guardrails(load_policies(), threads=1) if guardrails else None

    def call_engine(self, requests: list[EngineRequest]) -> list[EngineResult]:
        """The use case's engine in this process (loaded on first use)."""
        if self._call is not None:
            return self._call(requests)
        if self._engine is None:
            from workers.enricher.engines import make_engine

            self._engine = make_engine(self.use_case.engine_spec())
            self._loop = asyncio.new_event_loop()
        return self._loop.run_until_complete(self._engine.generate(requests))

    def answer(self, rows: list[Row]) -> list[Answer]:
        """One answer per row, in order."""
        jobs = [self.tagger.job(r.change()) for r in rows]
        outcomes = self.tagger.run(jobs, self.call_engine)
        answers = []
        subjects = []
        for o in outcomes:
            calls = len(o.calls)
            cost = sum(c.cost_usd or 0.0 for c in o.calls)
            model = f"{self.use_case.engine}/{self.use_case.model}"
            answered_by = (o.result.answered_by or dict.fromkeys(self.taxonomy.fields, model)) if o.ok else {}
            a = Answer(None if not o.ok else dict(o.result.output), llm_calls=calls, cost_usd=o.result.cost_usd or cost,
                       latency_ms=o.result.latency_ms, error=None if o.ok else str(o.error)[:500],
                       answered_by=answered_by)  # fmt: skip
            answers.append(a)
            subjects.append(Subject.of_result(o.result) if o.ok else None)
        if self.guardrails is not None:
            todo = [(i, s) for i, s in enumerate(subjects) if s is not None]
            if todo:
                t0 = time.perf_counter()
                decisions = self.guardrails.decide([s for _, s in todo])
                spent = (time.perf_counter() - t0) * 1000 / len(todo)
                for (i, _), d in zip(todo, decisions, strict=True):
                    a = answers[i]
                    a.route, a.latency_ms = d.route, a.latency_ms + spent
                    a.predicted = None if d.route == "rejected" else (d.subject.output or {})
                    if d.route == "rejected":
                        failed = [c.check for c in d.verdict.checks if not c.passed]
                        a.error = f"rejected by guardrails ({', '.join(failed)})"
        return answers

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()
        if self._loop is not None:
            self._loop.close()

    def describe(self) -> dict:
        uc = self.use_case
        return {"use_case": uc.name, "task": uc.task, "prompt": self.prompt.ref, "model": uc.model, "engine": uc.engine,
                "cascade": self.cascade.ref if self.cascade else None, "adapter": self.adapter_ref()}  # fmt: skip

    def adapter_ref(self) -> str | None:
        """The use case's `lora:` as NAME@VERSION (a label resolved now), so a run names what it scored."""
        if not self.use_case.lora:
            return None
        from shared.finetune import AdapterRegistry

        name, version = AdapterRegistry(self.ladle.data_dir).resolve(self.use_case.lora)
        return f"{name}@{version}"


@dataclass
class RunResult:
    run: EvalRun
    items: list[EvalItem]
    scores: list[m.FieldScores]


def new_run_id(use_case: str) -> str:
    return f"ev-{datetime.now(UTC):%Y%m%d-%H%M%S}-{use_case}-{uuid.uuid4().hex[:6]}"


def evaluate(path: UseCasePath, ds: Dataset, *, chunk: int = 8, progress: Progress | None = None) -> RunResult:
    """Every row through the path, then the scores."""
    run_id = new_run_id(path.use_case.name)
    started, t0 = datetime.now(UTC), time.perf_counter()
    answers: list[Answer] = []
    for start in range(0, len(ds.rows), chunk):
        answers.extend(path.answer(ds.rows[start : start + chunk]))
        if progress is not None:
            progress(len(answers), len(ds.rows))
    seconds = time.perf_counter() - t0
    return score(run_id, path.describe(), ds, answers, seconds, started, path.taxonomy)


def score(
    run_id: str, what: dict, ds: Dataset, answers: list[Answer], seconds: float, started: datetime, taxonomy: Taxonomy
) -> RunResult:
    expected = [r.expected for r in ds.rows]
    predicted = [a.predicted for a in answers]
    scores = m.field_scores(taxonomy, expected, predicted)
    correct = {s.name: s.correct() for s in scores}
    items = [
        EvalItem(
            run_id=run_id,
            row=r.line,
            item_id=r.id,
            expected=r.expected,
            predicted=a.predicted,
            correct={f: bool(c[i]) for f, c in correct.items() if f in r.expected},
            route=a.route,
            answered_by=a.answered_by,
            llm_calls=a.llm_calls,
            latency_ms=a.latency_ms,
            cost_usd=a.cost_usd,
            error=a.error,
        )  # fmt: skip
        for i, (r, a) in enumerate(zip(ds.rows, answers, strict=True))
    ]
    run = EvalRun(
        run_id=run_id, dataset=ds.name, dataset_sha256=ds.sha256, items=len(items), failed_rows=len(ds.bad),
        metrics=run_metrics(scores, answers, seconds), started_at=started, seconds=round(seconds, 3),
        cost_usd=sum(a.cost_usd for a in answers), status="partial" if ds.bad else "ok", **what,
    )  # fmt: skip
    return RunResult(run, items, scores)


def run_metrics(scores: list[m.FieldScores], answers: list[Answer], seconds: float) -> list[EvalMetric]:
    out = [EvalMetric(field=s.name, metric=k, value=round(v, 6)) for s in scores for k, v in s.metrics().items()]
    n = len(answers) or 1
    lat = [a.latency_ms for a in answers]
    run = {
        "invalid_rate": sum(a.predicted is None for a in answers) / n,
        "llm_call_share": sum(a.llm_calls > 0 for a in answers) / n,
        "cost_per_1k_items_usd": 1000 * sum(a.cost_usd for a in answers) / n,
        "latency_p50_ms": m.percentile(lat, 50),
        "latency_p95_ms": m.percentile(lat, 95),
        "items_per_s": len(answers) / seconds if seconds > 0 else 0.0,
        "macro_f1": m.summary_f1(scores),  # last: the headline
    }
    out += [EvalMetric(field="all", metric=k, value=round(v, 6)) for k, v in run.items()]
    return out


def json_lines(result: RunResult) -> list[dict]:
    r = result.run
    return [
        {
            "eval": r.run_id,
            "use_case": r.use_case,
            "dataset": r.dataset,
            "dataset_sha256": r.dataset_sha256,
            "field": x.field,
            "metric": x.metric,
            "value": x.value,
            "items": r.items,
        }  # fmt: skip
        for x in r.metrics
    ]
