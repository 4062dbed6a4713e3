"""The release gate for prompts: moving a prompt's `production` label evaluates the candidate
version for every use case that uses the prompt and declares a gate (reusing earlier runs of
the same version on the same dataset content), against the version in production now."""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console

from ladle.eval import gate as g
from ladle.eval.run import UseCasePath
from schemas import PromptState
from shared.settings import LadleSettings, ladle_settings
from workers.enricher.settings import EnricherSettings, load_use_cases


@dataclass
class PromptGateVerdict:
    use_case: str
    passed: bool
    reason: str


def gated_use_cases(prompt: str, settings: EnricherSettings) -> list[str]:
    return [n for n, uc in load_use_cases(settings.use_cases_file).items() if uc.prompt == prompt and uc.gate]


def gate_prompt(
    state: PromptState, version: int, *, console: Console | None = None, ladle: LadleSettings | None = None
) -> list[PromptGateVerdict]:
    """One verdict per gated use case of this prompt (none: nothing guards it)."""
    from ladle.cli.eval import progress_bar

    ladle = ladle or ladle_settings()
    settings = EnricherSettings()
    current = state.labels.get("production")
    out = []
    for name in gated_use_cases(state.name, settings):
        runs = {}
        for which, v in (("production", current), ("candidate", version)):
            if v is None:
                continue
            path = UseCasePath(name, ladle, prompt_version=v, settings=settings)
            try:
                spec = g.gate_of(path.use_case)
                with progress_bar(f"gate {name}: {state.name}@{v} ({which})") as bar:
                    t = bar.add_task("", total=None)
                    runs[which] = (path, g.run_or_reuse(ladle, path, spec,
                                                        progress=lambda d, n, t=t, bar=bar: bar.update(t, completed=d, total=n)))  # fmt: skip
            finally:
                path.close()
        cand_path, cand = runs["candidate"]
        baseline = runs["production"][1] if "production" in runs and current != version else None
        decision = g.decide(g.gate_of(cand_path.use_case), cand_path, cand, baseline)
        out.append(PromptGateVerdict(name, decision.passed, decision.reason))
        if console is not None:
            console.print(f"gate {name}: {decision.reason}", highlight=False)
    return out
