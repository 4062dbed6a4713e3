"""The release gate for cascades (and, the same way, fine-tuned adapters: a use case's `lora:`): moving a label (`production`, ...) of cascade NAME evaluates the
candidate version in every use case that serves NAME@label and declares a gate, against the
version the label points at now (kept runs of either are reused), as `ladle prompts promote`
does for prompts. A retrained cascade serves only once it passes."""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from typing import Literal

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


Kind = Literal["cascade", "lora"]  # which field of a use case names the versioned artifact


def serving_use_cases(name: str, label: str, settings: EnricherSettings, kind: Kind = "cascade") -> list[UseCase]:
    """Use cases whose `cascade:` (or `lora:`) is NAME@label (a bare NAME means its production label)."""
    out = []
    for uc in load_use_cases(settings.use_cases_file).values():
        ref = getattr(uc, kind)
        if ref:
            rname, _, rlabel = ref.partition("@")
            if rname == name and (rlabel or DEFAULT_LABEL) == label:
                out.append(uc)
    return out


def _path(uc: UseCase, kind: Kind, ref: str, ladle: LadleSettings, settings: EnricherSettings) -> UseCasePath:
    if kind == "cascade":
        return UseCasePath(uc.name, ladle, cascade=ref, settings=settings)
    path = UseCasePath(uc.name, ladle, settings=settings)
    path.use_case = path.use_case.model_copy(update={"lora": ref})
    return path


def gate_versions(kind: Kind, name: str, version: int, label: str, current: int | None, ladle: LadleSettings, *,
                  console: Console | None = None) -> list[CascadeGateVerdict]:  # fmt: skip
    """One verdict per gated use case that serves NAME@label: the candidate version against the one the
    label points at now (``current``), each scored on the use case's gate dataset (kept runs reused)."""
    from ladle.cli.eval import progress_bar

    settings = EnricherSettings()
    out = []
    for uc in serving_use_cases(name, label, settings, kind):
        if uc.gate is None:
            continue
        runs = {}
        for which, v in (("production", current), ("candidate", version)):
            if v is None or (which == "production" and v == version):
                continue
            path = _path(uc, kind, f"{name}@{v}", ladle, settings)
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
            reason: str | None = None, console: Console | None = None, kind: Kind = "cascade",
            registry=None) -> tuple[bool, list[CascadeGateVerdict]]:  # fmt: skip
    """Move ``label`` to ``version`` through the gate. (moved, verdicts); refused moves change nothing.
    ``kind`` "lora" with an AdapterRegistry promotes a fine-tuned adapter the same way."""
    if force and not reason:
        raise UserError(f"--force needs --reason TEXT: the override is recorded in the {kind}'s history")
    reg = registry or CascadeRegistry(ladle.data_dir)
    reg.resolve(f"{name}@{version}")  # the version exists
    verdicts = gate_versions(kind, name, version, label, reg.labels(name).get(label), ladle, console=console)
    refused = [v for v in verdicts if not v.passed]
    if refused and not force:
        return False, verdicts
    line = "; ".join(f"{v.use_case}: {v.reason}" for v in verdicts)
    reg.move(name, label, version, by=getpass.getuser(), gate=line[:1000], forced=bool(refused), reason=reason or "")
    return True, verdicts
