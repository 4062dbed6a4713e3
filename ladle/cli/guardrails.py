"""`ladle guardrails worker|check|eval` and `ladle bench guardrails`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from shared.runtime.errors import UserError

out = Console(width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, soft_wrap=True)

PolicyFile = Annotated[Path | None, typer.Option("--policy-file", help="Default: LADLE_GUARDRAILS_POLICY_FILE.")]


def _engine(policy_file: Path | None):
    from shared.guardrails.engine import Engine
    from shared.guardrails.policy import load_policies
    from workers.guardrails.settings import guardrails_settings

    gs = guardrails_settings()
    return Engine(load_policies(policy_file or gs.policy_file), threads=gs.threads)


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    g = typer.Typer(help="Guardrails: check, redact and route every LLM output.", no_args_is_help=True)
    app.add_typer(g, name="guardrails")

    @g.command("worker")
    def worker() -> None:
        """Run the faust app: enrichment.results -> accepted | review | rejected, and verdicts."""
        from shared.kafka import clients
        from shared.settings import ladle_settings
        from workers.guardrails.app import run_worker
        from workers.guardrails.settings import guardrails_settings

        settings = ladle_settings()
        clients.require_broker(settings)
        run_worker(settings, guardrails_settings())

    @g.command("check")
    def check(
        text: Annotated[str, typer.Argument(help="The text to check ('-' reads stdin).")],
        policy: Annotated[str | None, typer.Option(help="Policy name; default: the use case's.")] = None,
        use_case: Annotated[str, typer.Option(help="Picks the policy when --policy is not given.")] = "tag",
        side: Annotated[
            str, typer.Option("--as", help="input (what a model reads) or output (what it wrote).")
        ] = "input",
        tags: Annotated[
            str | None, typer.Option(help='The structured output as JSON, e.g. \'{"cuisine": "thai"}\'.')
        ] = None,
        policy_file: PolicyFile = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print the verdict as JSON.")] = False,
    ) -> None:
        """Run a policy on one text and print each check's result."""
        from shared.guardrails.engine import ROUTE
        from shared.guardrails.subject import Subject

        if side not in ("input", "output"):
            raise UserError("--as takes input or output")
        if text == "-":
            text = sys.stdin.read()
        try:
            output = json.loads(tags) if tags else None
        except ValueError:
            raise UserError('--tags must be JSON, e.g. \'{"cuisine": "thai", "dish_type": "curry"}\'') from None
        engine = _engine(policy_file)
        s = Subject.of_text(text, "gateway_request" if side == "input" else "gateway_response", use_case)
        s.kind, s.output = "enrichment_result", output
        d = engine.decide([s], policy)[0]
        if as_json:
            out.print_json(d.verdict.model_dump_json())
            return
        table = Table("check", "passed", "score", "action", "ms", "detail")
        for o in d.verdict.checks:
            mark = "[green]yes[/]" if o.passed else "[red]no[/]"
            score = "" if o.score is None else f"{o.score:.3f}"
            table.add_row(o.check, mark, score, o.action, f"{o.latency_ms:.2f}", o.detail)
        out.print(table)
        checked = (s.inputs if side == "input" else s.outputs).get("text", "")
        if checked != text:
            out.print(f"text after checks: {checked}", highlight=False)
        if output is not None and s.output != output:
            out.print(f"output after checks: {json.dumps(s.output)}", highlight=False)
        v = d.verdict
        out.print(f"policy {v.policy} ({v.policy_version}): action {v.action} -> {ROUTE[v.action]}", highlight=False)

    @g.command("eval")
    def evaluate(
        file: Annotated[Path, typer.Argument(help="Labelled JSONL, e.g. deploy/guardrails/devset.jsonl.")],
        policy: Annotated[str | None, typer.Option(help="Policy name; default: each record's use case.")] = None,
        split: Annotated[str, typer.Option(help="dev, test or all.")] = "test",
        tune: Annotated[bool, typer.Option(help="Sweep thresholds on this split and print the best ones.")] = False,
        batch_size: Annotated[int, typer.Option(help="Records per engine call; 1 gives per-record latencies.")] = 1,
        policy_file: PolicyFile = None,
        as_json: Annotated[bool, typer.Option("--json", help="One JSON line per check instead of a table.")] = False,
    ) -> None:
        """Precision, recall and F1 per check on a labelled set, and latency p50/p99 per check.

        Also reads the outside sets' shapes (/work/shared/evaldata: injection, toxicity, pii): then P/R/F1
        with bootstrap 95% intervals, per subtype or category, menu false-positive rate, PII leak per type."""
        from rich.progress import Progress

        from ladle.eval import guardrails as ev
        from ladle.eval import guardrails_sets as sets

        raw = sets.read_jsonl(file)
        if raw and sets.shape_of(raw) != "devset":
            engine = _engine(policy_file)
            name = policy or "gateway"
            engine.checks(name)
            with Progress(console=err, transient=True) as bar:
                task = bar.add_task(f"checking {len(raw)} records", total=len(raw))
                lines = sets.evaluate_set(engine, name, file, raw, lambda n: bar.advance(task, n))
            for line in lines:
                if as_json:
                    out.print(json.dumps(line), highlight=False, soft_wrap=True)
                else:
                    _print_set_line(line)
            err.print(f"{len(raw)} records ({sets.shape_of(raw)}), policy {name}", highlight=False)
            return
        if split not in ("dev", "test", "all"):
            raise UserError("--split takes dev, test or all")
        if tune and split == "test":
            raise UserError("tune on dev (--split dev): thresholds are never chosen on the test split")
        records = ev.load_records(file, split)
        if not records:
            raise UserError(f"no records of split {split!r} in {file}")
        engine = _engine(policy_file)
        name = policy or engine.policies.file.default
        if tune:
            engine = ev.for_tuning(engine, name)
        with Progress(console=err, transient=True) as bar:
            task = bar.add_task(f"checking {len(records)} records", total=len(records))
            stats, routes = ev.evaluate(engine, records, policy, batch_size, lambda n: bar.advance(task, n))
        rows = []
        for check, s in stats.items():
            rows.append(
                {"check": check, "tp": s.tp, "fp": s.fp, "fn": s.fn, "tn": s.tn,
                 "precision": round(s.precision, 3), "recall": round(s.recall, 3), "f1": round(s.f1, 3),
                 "p50_ms": round(s.quantile(0.5), 3), "p99_ms": round(s.quantile(0.99), 3)}
            )  # fmt: skip
        if as_json:
            for r in rows:
                out.print(json.dumps(r), highlight=False, soft_wrap=True)
        else:
            table = Table("check", "tp", "fp", "fn", "tn", "precision", "recall", "F1", "p50 ms", "p99 ms")
            for r in rows:
                table.add_row(
                    *(
                        str(r[k])
                        for k in ("check", "tp", "fp", "fn", "tn", "precision", "recall", "f1", "p50_ms", "p99_ms")
                    )
                )
            out.print(table)
        if tune:
            for check, s in stats.items():
                spec = ev.tuning_direction(engine, name, check)
                if spec and s.scored:
                    t, f1, p, r = ev.best_threshold(s.scored, spec[0])
                    suggest = ev.suggested(engine, name, check, t)
                    out.print(f"tune {check}: {spec[1]}={suggest} -> F1 {f1:.3f} (P {p:.3f}, R {r:.3f}) on {split}")
        summary = ", ".join(f"{k} {v}" for k, v in sorted(routes.items()))
        out.print(f"{len(records)} records ({split}), policy {name}: {summary}", highlight=False)

    @g.command("redact")
    def redact(
        file: Annotated[Path, typer.Argument(help='JSONL of {"id", "text"}; "-" reads stdin.')],
        policy: Annotated[str, typer.Option(help="The policy whose checks run (as in the gateway).")] = "gateway",
        batch_size: Annotated[int, typer.Option(help="Texts per engine call.")] = 32,
        policy_file: PolicyFile = None,
    ) -> None:
        """Run a policy on each text; print {"id", "text", "redacted", "entities", "action"} per line, in order."""
        from shared.guardrails.subject import Subject

        engine = _engine(policy_file)
        engine.checks(policy)
        stream = sys.stdin if str(file) == "-" else None
        if stream is None and not file.exists():
            raise UserError(f"{file} not found")
        lines = (stream or file.open(encoding="utf-8")).read().split("\n")
        lines = lines[:-1] if lines and not lines[-1] else lines
        done = errors = redacted = 0
        pending: list[dict | tuple] = []  # a record, or (id, error message) for a bad line

        def flush() -> None:
            nonlocal redacted
            good = [r for r in pending if isinstance(r, dict)]
            subjects = [Subject(id=str(r["id"]), kind="gateway_request", inputs={"text": r["text"]}) for r in good]
            decisions = iter(engine.decide(subjects, policy) if subjects else [])
            for r in pending:
                if not isinstance(r, dict):
                    print(json.dumps({"id": r[0], "error": r[1]}))
                    continue
                d = next(decisions)
                after = d.subject.inputs.get("text", "")
                ents = [{"type": k, "start": a, "end": b, "score": round(sc, 3)}
                        for _, _, a, b, k, sc in d.subject.redactions]  # fmt: skip
                redacted += after != r["text"]
                print(json.dumps({"id": r["id"], "text": r["text"], "redacted": after, "entities": ents,
                                  "action": d.verdict.action}, ensure_ascii=False))  # fmt: skip
            pending.clear()
            sys.stdout.flush()

        for n, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            done += 1
            rec = None
            try:
                rec = json.loads(line)
                if not isinstance(rec, dict) or not isinstance(rec.get("text"), str) or "id" not in rec:
                    raise ValueError('expected an object with "id" and a string "text"')
                pending.append(rec)
            except ValueError as exc:
                msg = f"line {n}: {' '.join(str(exc).split())[:200]}"
                err.print(f"error: {msg}", highlight=False)
                pending.append((rec.get("id") if isinstance(rec, dict) else None, msg))
                errors += 1
            if len(pending) >= batch_size:
                flush()
                err.print(f"{done} lines read", highlight=False)
        flush()
        err.print(f"{done} lines, policy {policy}: {redacted} redacted, {errors} errors", highlight=False)

    @g.command("train")
    def train(
        check: Annotated[
            list[str] | None, typer.Option(help="injection, toxicity, pii-lexicon (repeatable); default: all.")
        ] = None,
        folds: Annotated[int, typer.Option(help="Outer folds of a nested cross-validation to report; 0: none.")] = 0,
    ) -> None:
        """Rebuild deploy/guardrails/models/* from /work/shared/evaldata (dev half) and the menu negatives."""
        from ladle.eval import guardrails_train as tr
        from shared.encoder import limit_threads

        limit_threads(1)
        wanted = check or ["pii-lexicon", "injection", "toxicity"]
        for c in wanted:
            if c not in ("injection", "toxicity", "pii-lexicon"):
                raise UserError(f"unknown --check {c!r}: injection, toxicity or pii-lexicon")
        for c in wanted:
            line = tr.build_pii_lexicon() if c == "pii-lexicon" else tr.train(c, folds, lambda m: err.print(m))
            out.print(json.dumps(line), highlight=False, soft_wrap=True)

    @bench_app.command("guardrails")
    def bench(
        results: Annotated[int, typer.Option(help="Results through the default policy, each side.")] = 1500,
        fast_results: Annotated[
            int, typer.Option(help="Results through the deterministic policy, each side.")
        ] = 20_000,
        policy: Annotated[str, typer.Option(help="The policy measured against the plain loop.")] = "default",
        fast_policy: Annotated[
            str, typer.Option(help="The model-free policy for the per-core figure.")
        ] = "deterministic",
        gateway_texts: Annotated[int, typer.Option(help="Texts for the gateway policy's per-text latency.")] = 600,
        gateway_only: Annotated[bool, typer.Option(help="Only the gateway latency line (no broker needed).")] = False,
    ) -> None:
        """Results/s through the faust app vs a plain loop on the same results; latency p50/p99 per check;
        the whole gateway policy's p99 CPU ms per text beside the old checks'."""
        from benchmarks import guardrails as b
        from shared.settings import ladle_settings

        lines = b.run(ladle_settings(), results, fast_results, policy, fast_policy, console=err,
                      gateway_n=gateway_texts, gateway_only=gateway_only)  # fmt: skip
        for line in lines:
            out.print(json.dumps(line), highlight=False, soft_wrap=True)


def _print_set_line(line: dict) -> None:
    skip = {"per_group", "per_type", "data", "policy", "split"}
    out.print(", ".join(f"{k} {v}" for k, v in line.items() if k not in skip), highlight=False)
    groups = line.get("per_group") or line.get("per_type") or {}
    table = Table("group", *sorted({k for g in groups.values() for k in g}))
    for g, row in groups.items():
        table.add_row(g, *(str(row.get(k, "")) for k in sorted({k for r in groups.values() for k in r})))
    out.print(table)
