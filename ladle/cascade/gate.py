"""The release gate for cascades: moving a label (`production`, ...) of cascade NAME evaluates the
candidate version in every use case that serves NAME@label and declares a gate, against the
version the label points at now (kept runs of either are reused), as `ladle prompts promote`
does for prompts. A retrained cascade serves only once it passes."""

from __future__ import annotations

import getpass
from dataclasses import dataclass

from rich.console import Console

from ladle.eval import gate as g
from ladle.eval.run import UseCasePath
from shared.cascade import CascadeRegistry
from shared.cascade.registry import DEFAULT_LABEL
from shared.runtime.errors import UserError
from shared.settings import LadleSettings
from workers.enricher.settings import EnricherSettings, UseCase, load_use_cases


@dataclass
class CascadeGateVerdict:
    use_case: str
    passed: bool
    reason: str


def serving_use_cases(name: str, label: str, settings: EnricherSettings) -> list[UseCase]:
    """Use cases whose `cascade:` is NAME@label (a bare NAME means its production label)."""
    out = []
    for uc in load_use_cases(settings.use_cases_file).values():
        if uc.cascade:
            cname, _, clabel = uc.cascade.partition("@")
            if cname == name and (clabel or DEFAULT_LABEL) == label:
                out.append(uc)
    return out


def gate_cascade(name: str, version: int, label: str, ladle: LadleSettings, *,
                 console: Console | None = None) -> list[CascadeGateVerdict]:  # fmt: skip
    """One verdict per gated use case that serves NAME@label (none: nothing guards the move)."""
    from ladle.cli.eval import progress_bar

    settings = EnricherSettings()
    current = CascadeRegistry(ladle.data_dir).labels(name).get(label)
    out = []
    for uc in serving_use_cases(name, label, settings):
        if uc.gate is None:
            continue
        runs = {}
        for which, v in (("production", current), ("candidate", version)):
            if v is None or (which == "production" and v == version):
                continue
            path = UseCasePath(uc.name, ladle, cascade=f"{name}@{v}", settings=settings)
            try:
                with progress_bar(f"gate {uc.name}: {name}@{v} ({which})") as bar:
                    t = bar.add_task("", total=None)
                    runs[which] = (path, g.run_or_reuse(ladle, path, uc.gate,
                                                        progress=lambda d, n, t=t, bar=bar: bar.update(t, completed=d, total=n)))  # fmt: skip
            finally:
                path.close()
        cand_path, cand = runs["candidate"]
        decision = g.decide(uc.gate, cand_path, cand, runs["production"][1] if "production" in runs else None)
        out.append(CascadeGateVerdict(uc.name, decision.passed, decision.reason))
        if console is not None:
            console.print(f"gate {uc.name}: {decision.reason}", highlight=False)
    return out


def promote(name: str, version: int, label: str, ladle: LadleSettings, *, force: bool = False,
            reason: str | None = None, console: Console | None = None) -> tuple[bool, list[CascadeGateVerdict]]:  # fmt: skip
    """Move ``label`` to ``version`` through the gate. (moved, verdicts); refused moves change nothing."""
    if force and not reason:
        raise UserError("--force needs --reason TEXT: the override is recorded in the cascade's history")
    reg = CascadeRegistry(ladle.data_dir)
    reg.resolve(f"{name}@{version}")  # the version exists
    verdicts = gate_cascade(name, version, label, ladle, console=console)
    refused = [v for v in verdicts if not v.passed]
    if refused and not force:
        return False, verdicts
    line = "; ".join(f"{v.use_case}: {v.reason}" for v in verdicts)
    reg.move(name, label, version, by=getpass.getuser(), gate=line[:1000], forced=bool(refused), reason=reason or "")
    return True, verdicts
