"""The review queue: results the guardrails routed to enrichment.review, and a person's decisions.

The queue is the review topic minus the results a ReviewDecision on review.decisions already
decided; the console reads both topics from their start (shared.kafka.read) and catches up
before it shows or decides anything. A decision is keyed by the reviewed result's event id
(its event id derives from it), so the first decision wins: deciding holds a lock, catches up
with the decisions topic, and refuses a result someone decided meanwhile. One console
process decides; a second replica would need the topic as its only arbiter (docs/console.md).

Deciding publishes the ReviewDecision (the sink lands it in review_decisions), then the
result as the reviewer left it on enrichment.accepted (accept, correct) or
enrichment.rejected (reject), under an event id of its own, so it lands beside the row the
guardrails' review route left in guarded_results.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import structlog
from confluent_kafka import Message

from schemas import GuardedResult, ReviewDecision, stable_id
from shared.kafka import clients, read
from shared.runtime import codec
from shared.runtime.errors import FatalError, UserError
from shared.settings import LadleSettings
from shared.taxonomy import Taxonomy
from shared.yamlfile import read_mapping
from topics.registry import TOPICS, Namespace, key_of

log = structlog.get_logger(__name__)

REVIEW, DECISIONS = "enrichment.review", "review.decisions"
ROUTES = {"accepted": "enrichment.accepted", "rejected": "enrichment.rejected"}
DEFAULT_TAXONOMY = Path("deploy") / "enricher" / "taxonomy.yaml"


class AlreadyDecided(UserError):
    def __init__(self, decision: ReviewDecision) -> None:
        super().__init__(
            f"already decided by {decision.reviewer} ({decision.action}, {decision.decided_at:%Y-%m-%d %H:%M} UTC)"
        )
        self.decision = decision


@dataclass(frozen=True)
class Item:
    guarded: GuardedResult
    partition: int
    offset: int

    @property
    def id(self) -> str:
        return self.guarded.result.event_id

    @property
    def failed(self) -> list:
        return [c for c in self.guarded.verdict.checks if not c.passed]


class Taxonomies:
    """Each task's taxonomy, from the use cases file (a use case without one uses the tag taxonomy)."""

    def __init__(self, use_cases_file: Path, root: Path) -> None:
        self.paths: dict[str, Path] = {}
        for spec in (read_mapping(use_cases_file, "use cases").get("use_cases") or {}).values():
            if isinstance(spec, dict) and spec.get("task"):
                self.paths.setdefault(str(spec["task"]), root / str(spec.get("taxonomy") or DEFAULT_TAXONOMY))
        self.root = root
        self._loaded: dict[str, Taxonomy] = {}

    def of(self, task: str) -> Taxonomy:
        if task not in self._loaded:
            self._loaded[task] = Taxonomy.load(self.paths.get(task, self.root / DEFAULT_TAXONOMY))
        return self._loaded[task]


class ReviewQueue:
    def __init__(self, settings: LadleSettings, taxonomies: Taxonomies) -> None:
        self.settings = settings
        self.taxonomies = taxonomies
        ns = Namespace(settings.topic_prefix)
        self.review_topic, self.decisions_topic = ns.physical(REVIEW), ns.physical(DECISIONS)
        self.route_topics = {r: ns.physical(t) for r, t in ROUTES.items()}
        self.items: dict[str, Item] = {}  # result event id -> the item on the review topic
        self.decisions: dict[str, ReviewDecision] = {}  # result event id -> the first decision
        self._lock = threading.Lock()
        self._reader: read.TopicReader | None = None
        self._producer = None

    # -- reading -----------------------------------------------------------------

    def _apply(self, messages: list[Message]) -> None:
        for m in messages:
            try:
                if m.topic() == self.decisions_topic:
                    d = ReviewDecision.from_json(m.value())
                    self.decisions.setdefault(d.result_event_id, d)  # the first decision wins
                else:
                    g = GuardedResult.from_json(m.value())
                    self.items.setdefault(g.result.event_id, Item(g, m.partition(), m.offset()))
            except (ValueError, TypeError) as exc:  # a bad message is the sink's and the DLQ's business
                log.warning("console.unreadable_message", topic=m.topic(), offset=m.offset(), error=codec.one_line(exc))

    def _catch_up(self) -> None:
        if self._reader is None:
            c = read.reader(self.settings, "console-review")
            try:
                self._reader = read.TopicReader(c, [self.review_topic, self.decisions_topic])
            except read.MissingTopic:
                c.close()
                raise
        try:
            self._reader.read_to_end(self._apply, stall_s=30.0)
        except read.ReadStalled as exc:
            raise FatalError(f"reading the review queue stalled: {exc}") from None

    def pending(self) -> list[Item]:
        with self._lock:  # the views are built under the lock: another request may be catching up
            self._catch_up()
            waiting = [i for k, i in self.items.items() if k not in self.decisions]
        return sorted(waiting, key=lambda i: (i.guarded.occurred_at, i.id))

    def decided(self, limit: int = 50) -> list[tuple[Item | None, ReviewDecision]]:
        with self._lock:
            self._catch_up()
            recent = sorted(self.decisions.values(), key=lambda d: d.decided_at, reverse=True)[:limit]
            return [(self.items.get(d.result_event_id), d) for d in recent]

    def get(self, item_id: str) -> tuple[Item, ReviewDecision | None]:
        with self._lock:
            self._catch_up()
            item, decision = self.items.get(item_id), self.decisions.get(item_id)
        if item is None:
            raise UserError(f"no item {item_id!r} in the review queue")
        return item, decision

    # -- deciding ----------------------------------------------------------------

    def decide(
        self, item_id: str, reviewer: str, action: str, after: dict | None = None, note: str = ""
    ) -> ReviewDecision:
        """Publish a decision (and the result as decided) unless someone decided first (AlreadyDecided)."""
        if action not in ("accept", "correct", "reject"):
            raise UserError(f"unknown action {action!r}: accept, correct or reject")
        with self._lock:
            self._catch_up()
            if item_id in self.decisions:
                raise AlreadyDecided(self.decisions[item_id])
            item = self.items.get(item_id)
            if item is None:
                raise UserError(f"no item {item_id!r} in the review queue")
            g = item.guarded
            result = g.result
            before = dict(result.output)
            if action == "correct":
                try:
                    after = self.taxonomies.of(result.task).check(after or {})
                except ValueError as exc:
                    raise UserError(f"the correction is not valid: {exc}") from None
            else:
                after = before if action == "accept" else {}
            route = "rejected" if action == "reject" else "accepted"
            decision = ReviewDecision(
                reviewer=reviewer, action=action, item_id=result.item_id, item_version=result.item_version,
                task=result.task, result_event_id=result.event_id, guarded_event_id=g.event_id, route=route,
                before=before, after=after, failed_checks=[c.check for c in item.failed], note=note[:2000],
                trace_id=g.trace_id,
            )  # fmt: skip
            decided_result = result.model_copy(update={"output": after}) if action == "correct" else result
            out = GuardedResult(
                result=decided_result, verdict=g.verdict, route=route, trace_id=g.trace_id,
                event_id=stable_id("guarded", result.event_id, g.verdict.policy_version, "review", decision.event_id),
            )  # fmt: skip
            self._publish(self.decisions_topic, DECISIONS, decision)
            self._publish(self.route_topics[route], ROUTES[route], out)
            self.decisions[item_id] = decision
            log.info("console.review_decided", item_id=result.item_id, action=action, reviewer=reviewer, route=route)
            return decision

    def _publish(self, physical: str, logical: str, event) -> None:
        if self._producer is None:
            self._producer = clients.producer(self.settings, **{"client.id": "ladle-console"})
        errors: list = []
        self._producer.produce(physical, codec.encode(event), key_of(TOPICS[logical], event),
                               on_delivery=lambda err, _m: err and errors.append(err))  # fmt: skip
        if self._producer.flush(30) or errors:
            raise FatalError(f"publishing to {physical} failed: {errors or 'timed out'}")

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
