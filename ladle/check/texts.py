"""What the enricher saw of an item, so a result can be matched with the item's latest content.

The enricher skips a change whose rendered prompt it already tagged (its "already
enriched" key covers the item's text, the prompt version and the model, not the
item's version): a new version that changes nothing the prompt shows (the price
when the prompt does not show it, or nothing at all) gets no new result. A result
therefore still describes the latest version when the text it carries
(``EnrichmentResult.item_text``) equals the text the same prompt version makes of
the latest version. Both texts come from the enricher's own code.
"""

from __future__ import annotations

import structlog

from schemas import PromptRef
from shared.settings import LadleSettings

log = structlog.get_logger(__name__)


class PromptVariables:
    """The declared variables of a prompt version, from the enricher's prompt source (topic, then file)."""

    def __init__(self, ladle: LadleSettings) -> None:
        self.ladle = ladle
        self._source = None
        self._cache: dict[tuple[str, int], list[str] | None] = {}

    def _load_source(self):
        from shared.prompts.sources import prompt_source
        from workers.enricher.settings import EnricherSettings

        es = EnricherSettings()
        return prompt_source(es.prompt_source, es.prompts_dir, self.ladle)

    def __call__(self, ref: PromptRef | None) -> list[str] | None:
        """None when the prompt cannot be found: then only an equal version counts as current."""
        if ref is None:
            return None
        key = (ref.name, ref.version)
        if key not in self._cache:
            self._cache[key] = self._lookup(ref)
        return self._cache[key]

    def _lookup(self, ref: PromptRef) -> list[str] | None:
        try:
            if self._source is None:
                self._source = self._load_source()
            state = self._source.state(ref.name)
        except Exception as exc:  # noqa: BLE001 - no prompt source: fall back to versions, say so once
            log.warning("check.prompts_unavailable", prompt=ref.name, error=" ".join(str(exc).split())[:200])
            self._source = _NoPrompts()
            return None
        for v in state.versions if state else ():
            if v.version == ref.version:
                return list(v.variables)
        return None


class _NoPrompts:
    """The source once the real one failed: every prompt unknown (versions decide)."""

    def state(self, _name: str) -> None:
        return None
