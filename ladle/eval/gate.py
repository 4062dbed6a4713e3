"""The release gate: a candidate reaches production only when it scores at least the use case's
``gate.min`` on its gate dataset and is not significantly worse than what production runs now
(by more than ``gate.max_regression``). A run of the same configuration on the same dataset
content is reused, so a gate that already ran costs nothing the second time."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ladle.eval import datasets, store
from ladle.eval.run import RunResult, UseCasePath, evaluate
from schemas import EvalItem, EvalRun
from shared.evaluation.compare import compare_metric
from shared.runtime.errors import UserError
from shared.settings import LadleSettings
from workers.enricher.settings import Gate, UseCase

Progress = Callable[[int, int], None]


@dataclass
class GateDecision:
    passed: bool
    reason: str  # one line
    candidate: EvalRun
    baseline: EvalRun | None = None


def gate_of(uc: UseCase) -> Gate:
    if uc.gate is None:
        raise UserError(f"use case {uc.name!r} declares no gate (add `gate: {{dataset, metric, min}}` to it)")
    return uc.gate


def run_or_reuse(
    ladle: LadleSettings, path: UseCasePath, gate: Gate, *, progress: Progress | None = None, publish: bool = False
) -> tuple[EvalRun, list[EvalItem]]:
    """The latest kept run of this exact configuration on the gate dataset, else a new one."""
    ds = datasets.load(gate.dataset, path.taxonomy, gate.limit)
    if ds.bad:
        raise UserError(f"gate dataset {ds.name} has unreadable rows: {'; '.join(ds.bad[:3])}")
    what = path.describe()
    for run in reversed(store.list_runs(ladle, path.use_case.name)):
        if (run.status == "ok" and run.dataset_sha256 == ds.sha256 and run.items == len(ds.rows)
                and same_config(run, what)):  # fmt: skip
            return store.load(ladle, run.run_id)
    result: RunResult = evaluate(path, ds, progress=progress)
    store.save(ladle, result)
    if publish:
        store.publish(ladle, result)
    return result.run, result.items


def same_config(run: EvalRun, what: dict) -> bool:
    p, q = run.prompt, what.get("prompt")
    same_prompt = (p is None and q is None) or (
        p is not None and q is not None and (p.name, p.version) == (q.name, q.version)
    )
    return same_prompt and all(getattr(run, k) == what.get(k) for k in ("model", "engine", "cascade", "adapter"))


def decide(
    gate: Gate, path: UseCasePath, candidate: tuple[EvalRun, list[EvalItem]],
    baseline: tuple[EvalRun, list[EvalItem]] | None,
) -> GateDecision:  # fmt: skip
    run, items = candidate
    value = run.metric(gate.field, gate.metric)
    if value is None:
        raise UserError(f"run {run.run_id} has no {gate.field}/{gate.metric}; check the use case's gate")
    what = f"{gate.field} {gate.metric} {value:.3f} on {run.dataset} ({run.items} items)"
    if value < gate.min:
        return GateDecision(False, f"refused: {what} is below the gate's minimum {gate.min:g}", run)
    if baseline is None or baseline[0].run_id == run.run_id:
        return GateDecision(True, f"passed: {what} >= {gate.min:g}; nothing in production to compare with", run)
    b_run, b_items = baseline
    if b_run.dataset_sha256 != run.dataset_sha256:
        raise UserError(f"production's run {b_run.run_id} scored other data than {run.run_id}")
    comp = compare_metric(path.taxonomy, b_items, items, gate.field, gate.metric)
    vs = f"vs production {comp.a:.3f} (diff {comp.diff:+.3f}, 95% CI [{comp.low:+.3f}, {comp.high:+.3f}])"
    if comp.verdict == "worse" and -comp.diff > gate.max_regression:
        return GateDecision(False, f"refused: {what} is significantly worse {vs}", run, b_run)
    return GateDecision(True, f"passed: {what} {vs}: {comp.verdict}", run, b_run)
