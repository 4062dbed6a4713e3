"""The tagging core that streaming, batch and evaluation share: a catalog change -> (a cascade's
classifier) -> prompt -> engine calls (with bounded retries) -> tags checked against the
taxonomy -> one EnrichmentResult and one LLMCall per model call.

``Tagger.run`` takes the engine as a plain callable (a batch of requests in,
results out): the streaming worker passes its Ray actor pool, the batch job the
engine inside its Ray Data actor, `ladle eval` the engine in its own process.

With a cascade, its classifier screens the whole batch first (one encoder call): an item it
is sure of on every field is finished with no model call; for the others the engine is asked
only for the unsure fields (the prompt's ``{taxonomy}`` and the JSON schema list just those),
and its answer is merged with the classifier's.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable

from schemas import CatalogChange, stable_id
from shared.cascade import Cascade
from shared.pricing import Pricing
from shared.prompts.sources import Prompt
from shared.runtime.errors import UserError
from shared.taxonomy import TagField, Taxonomy
from workers.enricher import metrics
from workers.enricher.engines.base import EngineRequest, EngineResult
from workers.enricher.events import EventFactory
from workers.enricher.jobs import Attempt, EngineError, Job, Outcome, Screened
from workers.enricher.parse import MalformedOutput, parse_output
from workers.enricher.settings import UseCase

CallEngine = Callable[[list[EngineRequest]], list[EngineResult]]
RETRY_NOTE = "That reply was invalid: {error}. Reply again with only the JSON object, using only the allowed values."

__all__ = ["Attempt", "EngineError", "Job", "Outcome", "Tagger"]
VARIABLES = frozenset(
    {"taxonomy", "name", "description", "category", "cuisine", "tags", "store_id", "price", "attributes"}
)


def item_variables(change: CatalogChange) -> dict[str, str]:
    """The item's prompt variables (all but ``taxonomy``), as the merchant wrote the item."""
    item = change.item
    return {
        "name": item.name,
        "description": item.description or "-",
        "category": item.category or "-",
        "cuisine": item.cuisine or "-",
        "tags": ", ".join(item.tags) or "-",
        "store_id": item.store_id,
        "price": f"{item.price} {item.currency}",
        "attributes": ", ".join(f"{k}={v}" for k, v in sorted(item.attributes.items())) or "-",
    }


def item_text_for(change: CatalogChange, variables: list[str]) -> str:
    """What a prompt with these variables shows of the item (``EnrichmentResult.item_text``): the
    enricher skips a change whose text is unchanged, and `ladle check` matches results by it."""
    values = item_variables(change)
    return "\n".join(values[v] for v in variables if v != "taxonomy")


class Tagger:
    def __init__(
        self,
        use_case: UseCase,
        prompt: Prompt,
        taxonomy: Taxonomy,
        pricing: Pricing,
        *,
        mode: str = "stream",
        team: str = "catalog",
        max_attempts: int = 3,
        log_bodies: bool = True,
        cascade: Cascade | None = None,
    ) -> None:
        self.use_case = use_case
        self.prompt = prompt
        self.taxonomy = taxonomy
        self.max_attempts = max_attempts
        self.schema = taxonomy.json_schema()
        self.cascade = cascade
        if cascade is not None:
            cascade.check_taxonomy(taxonomy)
        self._asks: dict[tuple, tuple[Taxonomy, dict]] = {}  # (fields, narrowed values) -> what to ask
        self.events = EventFactory(use_case, prompt, pricing, mode=mode, team=team, log_bodies=log_bodies,
                                   cascade=cascade.ref if cascade else None)  # fmt: skip
        unknown = set(prompt.version.variables) - VARIABLES
        if unknown:  # fail at start-up, not on every item
            raise UserError(
                f"prompt {prompt.name} v{prompt.version.version} declares {sorted(unknown)}, which the enricher "
                f"does not fill; it fills {sorted(VARIABLES)}"
            )
        # A new cascade version is a new configuration: its items are answered anew.
        self._schema_digest = _digest([taxonomy.version, self.schema, *([cascade.ref] if cascade else [])])
        self._described = taxonomy.describe()

    # -- items -> jobs -------------------------------------------------------

    def variables(self, change: CatalogChange) -> dict[str, str]:
        return {"taxonomy": self._described, **item_variables(change)}

    def job(self, change: CatalogChange, ref: object = None) -> Job | None:
        """The job for one change; None for a delete (nothing to tag)."""
        if change.op != "upsert" or change.item is None:
            return None
        variables = self.variables(change)
        messages = self.prompt.render(variables)
        # The rendered prompt covers the item's content, the template and the taxonomy listing.
        content = _digest([messages, self._schema_digest])
        p = self.prompt.ref
        key = stable_id(
            "enricher.done", change.item_id, self.use_case.task, f"{p.name}@{p.version}", self.use_case.model, content
        )
        item_text = item_text_for(change, self.prompt.version.variables)
        return Job(change, ref, messages, key, item_text)

    def request(self, job: Job) -> EngineRequest:
        attempt = len(job.attempts) + 1
        messages = job.messages
        last = job.attempts[-1] if job.attempts else None
        if last is not None and last.result.status == "ok":
            # Show the model its own invalid reply and why; an engine error just retries.
            messages = messages + [
                {"role": "assistant", "content": last.result.text},
                {"role": "user", "content": RETRY_NOTE.format(error=(last.problem or "")[:300])},
            ]
        uc = self.use_case
        return EngineRequest(
            id=f"{job.key}:{attempt}",
            messages=messages,
            json_schema=self.schema if job.screened is None else job.screened.schema,
            max_tokens=uc.max_tokens,
            temperature=uc.temperature if attempt == 1 else uc.retry_temperature,
            params={"seed": attempt},
        )

    # -- the loop --------------------------------------------------------------

    def screen(self, jobs: list[Job]) -> None:
        """The cascade's classifier on every job at once: each gets what it settled and what is left."""
        t0 = time.perf_counter()
        predictions = self.cascade.predict([j.change.item for j in jobs])
        each = (time.perf_counter() - t0) / len(jobs)
        for job, p in zip(jobs, predictions, strict=True):
            answers = {f: p.answers[f] for f in p.sure}
            unsure = tuple(f for f in self.taxonomy.fields if f not in answers)
            if not unsure:
                job.screened = Screened(answers, None, None, each)
                continue
            asked = tuple(self.taxonomy.fields) if self.use_case.cascade_ask == "all" else unsure
            ask, schema = self._ask(asked, self._candidates(p.ranked, unsure))
            job.screened = Screened(answers, ask, schema, each)
            job.messages = self.prompt.render({**self.variables(job.change), "taxonomy": ask.describe()})

    def _candidates(self, ranked: dict[str, list[str]], unsure: tuple[str, ...]) -> tuple:
        """((field, values), ...): the unsure `one` fields narrowed to the classifier's likeliest values."""
        n = self.use_case.cascade_candidates
        return tuple((f, tuple(ranked[f][:n])) for f in unsure if n and f in ranked) if n else ()

    def _ask(self, fields: tuple[str, ...], narrowed: tuple = ()) -> tuple[Taxonomy, dict]:
        key = (fields, narrowed)
        if key not in self._asks:
            if len(self._asks) > 4096:  # narrowed values make many combinations: keep the cache bounded
                self._asks.clear()
            chosen = {f: self.taxonomy.fields[f] for f in fields}
            for f, values in narrowed:  # a new field, not a copy: a copy would keep the full value lookup
                chosen[f] = TagField.model_validate({**chosen[f].model_dump(), "values": list(values)})
            ask = self.taxonomy.model_copy(update={"fields": chosen})
            self._asks[key] = (ask, ask.json_schema())
        return self._asks[key]

    def run(self, jobs: list[Job], call: CallEngine) -> list[Outcome]:
        """Every job comes out exactly once, in order: tagged, or failed with its reason."""
        pending = list(jobs)
        done: dict[int, Outcome] = {}
        if self.cascade is not None and jobs:
            self.screen(jobs)
            for job in jobs:
                if job.screened.ask is None:  # the classifier answered every field: no model call
                    done[id(job)] = self.finish(job, job.screened.answers)
            pending = [j for j in jobs if id(j) not in done]
        while pending:
            requests = [self.request(j) for j in pending]
            results = call(requests)
            if len(results) != len(pending):
                raise RuntimeError(f"engine returned {len(results)} results for {len(pending)} requests")
            retry = []
            for job, req, res in zip(pending, requests, results, strict=True):
                tags, problem = None, None
                if res.status == "ok":
                    try:
                        tags = self._merged(job, parse_output(res.text, self._asked(job)))
                    except MalformedOutput as exc:
                        problem = str(exc)
                else:
                    problem = res.error or res.status
                job.attempts.append(Attempt(req, res, problem))
                if tags is not None:
                    done[id(job)] = self.finish(job, tags)
                elif len(job.attempts) >= self.max_attempts:
                    done[id(job)] = self.finish(job, None)
                else:
                    retry.append(job)
            pending = retry
        return [done[id(j)] for j in jobs]

    def _asked(self, job: Job) -> Taxonomy:
        return self.taxonomy if job.screened is None else job.screened.ask

    def _merged(self, job: Job, tags: dict) -> dict:
        """The engine's answer with the classifier's sure fields over it, in the taxonomy's order."""
        if job.screened is None:
            return tags
        both = {**tags, **job.screened.answers}
        return {f: both[f] for f in self.taxonomy.fields}

    def finish(self, job: Job, tags: dict | None) -> Outcome:
        result, calls = self.events.events(job, tags)
        name = self.use_case.name
        metrics.ITEMS.labels(name, "failed" if tags is None else "enriched").inc()
        if tags is not None:
            return Outcome(job, result, calls)
        last = job.attempts[-1]
        n = len(job.attempts)
        if last.result.status != "ok":
            err = EngineError(f"{n} attempts failed in the engine; last: {last.problem}")
            return Outcome(job, result, calls, err, transient=last.result.transient)
        return Outcome(job, result, calls, MalformedOutput(f"after {n} attempts: {last.problem}"))


def _digest(obj: object) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:32]
