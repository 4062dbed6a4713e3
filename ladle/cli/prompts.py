"""`ladle prompts push|list|show|promote|ab|diff`: the registry in the compacted prompts topic."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

out = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, soft_wrap=True)


def _registry():
    from shared.prompts import PromptRegistry
    from shared.settings import ladle_settings

    return PromptRegistry(ladle_settings()).load()


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    pr = typer.Typer(help="Versioned prompts: immutable versions, movable labels, A/B splits.", no_args_is_help=True)
    app.add_typer(pr, name="prompts")

    @pr.command("push")
    def push(
        name: Annotated[str, typer.Argument(help="Prompt name, e.g. tag.")],
        file: Annotated[Path, typer.Option("--file", help="Template text with {variables}.")],
        var: Annotated[list[str] | None, typer.Option("--var", help="Declared variable (repeat).")] = None,
        model: Annotated[str | None, typer.Option(help="Model or alias this version is meant for.")] = None,
        params: Annotated[str | None, typer.Option(help='Parameters as JSON, e.g. {"temperature": 0}.')] = None,
        label: Annotated[str | None, typer.Option(help="Also point this label at the new version.")] = None,
    ) -> None:
        """Add a new immutable version."""
        from shared.runtime.errors import UserError

        if not file.exists():
            raise UserError(f"{file}: no such file")
        try:
            parameters = json.loads(params) if params else {}
        except json.JSONDecodeError as exc:
            raise UserError(f"--params is not JSON: {exc.msg}") from None
        reg = _registry()
        state = reg.push(name, file.read_text(), variables=var, model=model, parameters=parameters)
        version = state.versions[-1].version
        forced = move_label(reg, name, version, label, force=False, reason=None) if label else False
        out.print(f"{name}@{version} pushed" + (f", {label} -> {version}" if label else "") + _forced(forced))

    @pr.command("list")
    def list_() -> None:
        """Every prompt with its versions and labels."""
        table = Table("prompt", "versions", "labels", "A/B", "revision")
        for name, s in sorted(_registry().states.items()):
            labels = ", ".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
            ab = ", ".join(f"{k}:{w:g}" for k, w in sorted(s.ab_weights.items()))
            table.add_row(name, str(len(s.versions)), labels, ab, str(s.revision))
        out.print(table)

    @pr.command("show")
    def show(
        name: str, version: Annotated[int | None, typer.Option(help="Default: the production label's.")] = None
    ) -> None:
        """One prompt version's template, variables, model and parameters."""
        from shared.prompts.model import resolve

        s = _registry().get(name)
        v = next((x for x in s.versions if x.version == version), None) if version else resolve(s, "production")[1]
        if v is None:
            raise typer.BadParameter(f"{name} has no version {version}")
        out.print(f"[bold]{name}@{v.version}[/] model={v.model} variables={v.variables} parameters={v.parameters}")
        out.print(v.template, highlight=False, markup=False)

    @pr.command("promote")
    def promote(
        name: str,
        version: int,
        label: Annotated[str, typer.Option(help="Label to move.")] = "production",
        force: Annotated[bool, typer.Option("--force", help="Move it although the release gate refuses.")] = False,
        reason: Annotated[str | None, typer.Option(help="Why the gate is overridden (with --force).")] = None,
    ) -> None:
        """Point a label (production, staging, ...) at a version. Moving `production` passes the release
        gate of every use case of this prompt that declares one: the version is evaluated on the gate's
        dataset (or an earlier run of it reused) and refused when it scores below the gate's minimum or
        significantly worse than the version in production now."""
        forced = move_label(_registry(), name, version, label, force, reason)
        out.print(f"{name}: {label} -> {version}" + _forced(forced))

    @pr.command("ab")
    def ab(
        name: str, weights: Annotated[str, typer.Option(help="e.g. production=0.9,staging=0.1; empty clears.")]
    ) -> None:
        """Split traffic between labels by weight; each user sticks to one label."""
        from shared.runtime.errors import UserError

        parsed = {}
        for part in filter(None, weights.split(",")):
            label, _, w = part.partition("=")
            try:
                parsed[label.strip()] = float(w)
            except ValueError:
                raise UserError(f"bad weight {part!r}: use label=number") from None
        _registry().set_ab(name, parsed)
        out.print(f"{name}: A/B {parsed or 'off'}")

    @pr.command("diff")
    def diff(name: str, a: int, b: int) -> None:
        """Unified diff between two versions' templates."""
        from shared.prompts.model import diff as d

        sys.stdout.write(d(_registry().get(name), a, b) or "(no difference)\n")


def _forced(forced: bool) -> str:
    return " (forced past the gate)" if forced else ""


def move_label(reg, name: str, version: int, label: str, force: bool, reason: str | None) -> bool:
    """Move a label; `production` only through the release gate (or past it, forced and recorded).
    True when it was forced past the gate."""
    import getpass

    from ladle.eval.prompt_gate import gate_prompt
    from shared.runtime.errors import UserError

    if force and not reason:
        raise UserError("--force needs --reason TEXT: the override is recorded in the prompt's history")
    state = reg.get(name)
    verdicts = gate_prompt(state, version, console=err) if label == "production" else []
    refused = [v for v in verdicts if not v.passed]
    if refused and not force:
        err.print(f"{name}: {label} stays at {state.labels.get(label, '-')}: the gate refused version {version} "
                  "(override with --force --reason TEXT)", highlight=False)  # fmt: skip
        raise typer.Exit(1)
    gate_line = "; ".join(f"{v.use_case}: {v.reason}" for v in verdicts)
    reg.promote(name, version, label, by=getpass.getuser(), gate=gate_line[:1000], forced=bool(refused),
                reason=reason or "")  # fmt: skip
    return bool(refused)
