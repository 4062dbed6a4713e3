"""Apply a policy to subjects: every check in stage order, one verdict per subject, the
route its worst action chooses, and the subject as the checks left it (redacted, tags
dropped), which is the only thing ever published.

Checks run over the whole batch (model-backed checks batch their model calls). A
check that raises is retried subject by subject; a subject it still fails on gets
the policy's ``on_error`` action, and if the failing check is the redactor, the
subject's texts are blanked: text that could not be checked for PII is not published.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import structlog

from schemas import CheckOutcome, EnrichmentResult, GuardedResult, GuardrailVerdict
from shared.guardrails import checks as check_lib
from shared.guardrails import metrics
from shared.guardrails.context import Context
from shared.guardrails.policy import PolicySet
from shared.guardrails.subject import Subject

log = structlog.get_logger(__name__)

SEVERITY = {"accept": 0, "drop_tag": 1, "redact": 2, "review": 3, "reject": 4}
ROUTE = {"accept": "accepted", "drop_tag": "accepted", "redact": "accepted", "review": "review", "reject": "rejected"}
BLANKED = "<UNCHECKED>"


@dataclass
class Decision:
    subject: Subject
    verdict: GuardrailVerdict
    route: str  # accepted | review | rejected


class Engine:
    def __init__(self, policies: PolicySet, threads: int = 1) -> None:
        from shared.encoder import limit_threads

        limit_threads(threads)
        self.policies = policies
        self.contexts = {n: Context(taxonomy=t) for n, t in policies.taxonomies.items()}
        self._checks: dict[str, list] = {}

    def checks(self, policy: str) -> list:
        """The policy's checks, built once (models load here), in stage order."""
        if policy not in self._checks:
            built = [check_lib.build(c, self.contexts[policy]) for c in self.policies.policy(policy).checks]
            self._checks[policy] = sorted(built, key=lambda c: c.stage)
        return self._checks[policy]

    # -- subjects -------------------------------------------------------------

    def decide(self, subjects: Sequence[Subject], policy: str | None = None) -> list[Decision]:
        """One decision per subject, in order; ``policy`` overrides the use-case mapping."""
        groups: dict[str, list[int]] = {}
        for i, s in enumerate(subjects):
            groups.setdefault(policy or self.policies.name_for(s.use_case), []).append(i)
        out: list[Decision | None] = [None] * len(subjects)
        for name, idx in groups.items():
            for i, d in zip(idx, self._decide_group(name, [subjects[i] for i in idx]), strict=True):
                out[i] = d
        return out  # type: ignore[return-value]

    def _decide_group(self, name: str, subjects: list[Subject]) -> list[Decision]:
        pol = self.policies.policy(name)
        outcomes: list[list[CheckOutcome]] = [[] for _ in subjects]
        for check in self.checks(name):
            failed = 0
            seconds = metrics.check_seconds(check.name)
            for i, o in enumerate(self._run(check, subjects, pol.on_error)):
                outcomes[i].append(o)
                failed += not o.passed
                seconds.observe(o.latency_ms / 1000)
            metrics.count_checks(name, check.name, len(subjects) - failed, failed)
        version = self.policies.versions[name]
        decisions = []
        for s, outs in zip(subjects, outcomes, strict=True):
            action = max((o.action for o in outs if not o.passed), key=SEVERITY.__getitem__, default="accept")
            verdict = GuardrailVerdict(
                subject_id=s.id,
                subject_kind=s.kind,
                policy=name,
                policy_version=version,
                checks=outs,
                action=action,
                latency_ms=round(sum(o.latency_ms for o in outs), 3),
                team=s.team,
                use_case=s.use_case,
            )
            metrics.verdict(name, action)
            decisions.append(Decision(s, verdict, ROUTE[action]))
        return decisions

    def _run(self, check, subjects: list[Subject], on_error: str) -> list[CheckOutcome]:
        try:
            return check.run_many(subjects)
        except Exception as exc:  # noqa: BLE001 - a check's bug must not stop the stream; isolate it
            log.warning("guardrails.check_failed_batch", check=check.name, error=type(exc).__name__, n=len(subjects))
        out = []
        for s in subjects:
            t0 = time.perf_counter()
            try:
                out.append(check.run(s))
            except Exception as exc:  # noqa: BLE001
                metrics.CHECK_ERRORS.labels(check.name).inc()
                log.error("guardrails.check_failed", check=check.name, subject=s.id, error=type(exc).__name__)
                if check.name in ("pii", "size"):  # the redactor or the limits failed: publish no text
                    _blank(s)
                out.append(
                    CheckOutcome(
                        check=check.name,
                        passed=False,
                        action=on_error,
                        detail=f"check failed: {type(exc).__name__}",
                        latency_ms=(time.perf_counter() - t0) * 1000,
                    )
                )
        return out

    # -- enrichment results ---------------------------------------------------

    def guard(
        self, results: Sequence[EnrichmentResult], policy: str | None = None
    ) -> list[tuple[GuardedResult, GuardrailVerdict]]:
        """Each result as it may be published, on its route, with its verdict."""
        if not results:
            return []
        decisions = self.decide([Subject.of_result(r) for r in results], policy)
        out = []
        for r, d in zip(results, decisions, strict=True):
            d.verdict.trace_id = r.trace_id or r.event_id
            guarded = GuardedResult(
                result=d.subject.apply_to(r), verdict=d.verdict, route=d.route, trace_id=d.verdict.trace_id
            )
            metrics.routed(d.route)
            out.append((guarded, d.verdict))
        return out


def _blank(s: Subject) -> None:
    for side in (s.inputs, s.outputs):
        for k in side:
            side[k] = BLANKED
    s.output = {} if s.output is not None else None
