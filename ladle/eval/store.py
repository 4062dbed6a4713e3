"""Where evaluation runs are kept: a JSON file per run under <LADLE_DATA_DIR>/eval/runs (so a
gate or a comparison works without the stack), and the eval.runs / eval.items topics,
which the sink lands in ClickHouse for reports and the console."""

from __future__ import annotations

import json
from pathlib import Path

import structlog

from ladle.eval.run import RunResult
from schemas import EvalItem, EvalRun
from shared.kafka import clients
from shared.runtime import codec
from shared.runtime.errors import LadleError, UserError
from shared.settings import LadleSettings
from topics.registry import Namespace

log = structlog.get_logger(__name__)


def runs_dir(ladle: LadleSettings) -> Path:
    return ladle.data_dir / "eval" / "runs"


def save(ladle: LadleSettings, result: RunResult) -> Path:
    folder = runs_dir(ladle)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{result.run.run_id}.json"
    body = {"run": result.run.model_dump(mode="json"), "items": [i.model_dump(mode="json") for i in result.items]}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(body))
    tmp.replace(path)
    return path


def load(ladle: LadleSettings, run_id: str) -> tuple[EvalRun, list[EvalItem]]:
    path = runs_dir(ladle) / f"{run_id}.json"
    if not path.is_file():
        known = ", ".join(r.run_id for r in list_runs(ladle)[-5:]) or "none yet"
        raise UserError(f"no evaluation run {run_id!r} in {runs_dir(ladle)}; latest: {known}")
    body = json.loads(path.read_text())
    return EvalRun.model_validate(body["run"]), [EvalItem.model_validate(i) for i in body["items"]]


def list_runs(ladle: LadleSettings, use_case: str | None = None) -> list[EvalRun]:
    """Every kept run (oldest first), optionally of one use case."""
    out = []
    for path in sorted(runs_dir(ladle).glob("*.json")) if runs_dir(ladle).is_dir() else []:
        try:
            run = EvalRun.model_validate(json.loads(path.read_text())["run"])
        except (OSError, ValueError, KeyError) as exc:
            log.warning("eval.unreadable_run", path=str(path), error=str(exc)[:200])
            continue
        if use_case is None or run.use_case == use_case:
            out.append(run)
    return sorted(out, key=lambda r: r.started_at)


def find(ladle: LadleSettings, **same) -> EvalRun | None:
    """The latest complete run whose fields equal ``same`` (use_case, dataset_sha256, prompt, model, ...)."""
    for run in reversed(list_runs(ladle, same.get("use_case"))):
        if run.status == "ok" and all(getattr(run, k) == v for k, v in same.items()):
            return run
    return None


def publish(ladle: LadleSettings, result: RunResult) -> None:
    """The run and its items onto eval.runs / eval.items (the sink lands them); raises on failure."""
    clients.require_broker(ladle)
    ns = Namespace(ladle.topic_prefix)
    p = clients.producer(ladle, **{"client.id": "ladle-eval"})
    errors: list = []

    def on_delivery(err, _msg) -> None:
        if err is not None:
            errors.append(err)

    for item in result.items:
        clients.produce_waiting(p, ns.physical("eval.items"), codec.encode(item), item.run_id, on_delivery)
    clients.produce_waiting(p, ns.physical("eval.runs"), codec.encode(result.run), result.run.run_id, on_delivery)
    if p.flush(60) or errors:
        raise LadleError(f"publishing evaluation run {result.run.run_id} failed: {errors[:3] or 'timed out'}")
