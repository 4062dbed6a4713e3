"""Raw enrichment.results messages in, messages to publish out: decode with the registry's
model (a bad message becomes a DeadLetter with its raw bytes), guard the good ones,
encode each GuardedResult to its route's topic and each verdict to guardrail.verdicts.

No Kafka here: the faust app and the benchmark's plain loop run this same code.
Ids are deterministic (GuardedResult and GuardrailVerdict derive theirs from the
result's event id and the policy version), so a replay publishes identical events.
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from schemas import EnrichmentResult
from shared.guardrails.engine import Engine
from shared.guardrails.subject import Subject
from shared.runtime import codec
from shared.runtime.errors import BadMessage
from topics.registry import DLQ_SUFFIX, TOPICS, Namespace

SOURCE = "enrichment.results"
ROUTE_TOPICS = {"accepted": "enrichment.accepted", "review": "enrichment.review", "rejected": "enrichment.rejected"}
VERDICTS = "guardrail.verdicts"
WORKER = "guardrails"
log = structlog.get_logger(__name__)


@dataclass(slots=True)
class RawMessage:
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


@dataclass(slots=True)
class Outgoing:
    topic: str  # physical
    key: bytes | None
    value: bytes
    kind: str  # a route, "verdict" or "dead_letter"
    error_class: str = ""  # dead letters only


class Processor:
    def __init__(self, engine: Engine, ns: Namespace, policy: str | None = None, dlq_redact: bool = True) -> None:
        self.engine = engine
        self.ns = ns
        self.policy = policy
        self.dlq_redact = dlq_redact
        self.spec = TOPICS[SOURCE]
        self.topics = {route: ns.physical(t) for route, t in ROUTE_TOPICS.items()}
        self.verdicts = ns.physical(VERDICTS)
        self.dlq = ns.physical(SOURCE + DLQ_SUFFIX)
        self.limit = {t: TOPICS[t].max_message_bytes for t in (*ROUTE_TOPICS.values(), VERDICTS)}

    def process(self, batch: list[RawMessage]) -> list[Outgoing]:
        """Outputs of a batch, in input order; each input gives 2 outputs or 1 dead letter."""
        slots: list[list[Outgoing]] = [[] for _ in batch]
        good: list[int] = []
        results: list[EnrichmentResult] = []
        for i, m in enumerate(batch):
            try:
                rec = codec.decode(self.spec, SOURCE, m.partition, m.offset, m.key, m.value)
            except BadMessage as exc:
                slots[i] = [self._dead(m, exc)]
                continue
            good.append(i)
            results.append(rec.value)
        for i, pair in zip(good, self._guard(results), strict=True):
            m = batch[i]
            if isinstance(pair, Exception):
                slots[i] = [self._dead(m, pair)]
                continue
            guarded, verdict = pair
            route_topic = ROUTE_TOPICS[guarded.route]
            g, v = codec.encode(guarded), codec.encode(verdict)
            if len(g) > self.limit[route_topic] or len(v) > self.limit[VERDICTS]:
                exc = codec.OutputTooLarge(f"guarded result is {len(g)} bytes, over {route_topic}'s limit")
                slots[i] = [self._dead(m, exc)]
                continue
            slots[i] = [
                Outgoing(self.topics[guarded.route], m.key, g, guarded.route),
                Outgoing(self.verdicts, verdict.subject_id.encode(), v, "verdict"),
            ]
        return [o for outs in slots for o in outs]

    def _guard(self, results: list[EnrichmentResult]) -> list:
        """Guarded pairs; if the batch raises, result by result, so only a poison result fails
        (it is dead-lettered) instead of crash-looping the worker on replay."""
        try:
            return self.engine.guard(results, self.policy)
        except Exception:  # noqa: BLE001 - isolate the culprit below
            log.exception("guardrails.batch_failed", n=len(results))
        out: list = []
        for r in results:
            try:
                out.extend(self.engine.guard([r], self.policy))
            except Exception as exc:  # noqa: BLE001 - becomes this one result's dead letter
                out.append(exc)
        return out

    def _dead(self, m: RawMessage, exc: BaseException) -> Outgoing:
        key = m.key.decode("utf-8", "replace") if m.key is not None else None
        raw = m.value or b""
        note = ""
        if self.dlq_redact and raw:
            redacted = self._redact(raw)
            if redacted is not None:
                raw, note = redacted, "; raw value PII-redacted"
        dl = codec.dead_letter(
            topic=SOURCE, partition=m.partition, offset=m.offset, key=key, raw=raw, exc=exc, worker=WORKER
        )
        if note:
            dl.error_message = (dl.error_message + note)[:2000]
        return Outgoing(self.dlq, m.key, codec.encode(dl), "dead_letter", dl.error_class)

    def _redact(self, raw: bytes) -> bytes | None:
        """The raw bytes with PII replaced, or None when there was none (the bytes stay exact)."""
        text = raw.decode("utf-8", "replace")
        pii = next((c for c in self.engine.checks(self._policy_name()) if c.name == "pii"), None)
        if pii is None:
            return None
        s = Subject.of_text(text, "gateway_response")
        if pii.run(s).passed:
            return None
        return s.outputs["text"].encode("utf-8")

    def _policy_name(self) -> str:
        return self.policy or self.engine.policies.file.default
