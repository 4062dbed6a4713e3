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

from types import SimpleNamespace

import structlog

from schemas import CatalogChange, PromptRef
from shared.settings import LadleSettings

log = structlog.get_logger(__name__)
_NO_TAXONOMY = SimpleNamespace(_described="")  # the taxonomy is never part of item_text


def item_text(change: CatalogChange, variables: list[str]) -> str:
    """``Job.item_text`` as the enricher builds it for a prompt with these variables."""
    from workers.enricher.tagging import Tagger

    values = Tagger.variables(_NO_TAXONOMY, change)
    return "\n".join(values[v] for v in variables if v != "taxonomy")


class PromptVariables:
    """The declared variables of a prompt version, from the enricher's prompt source (topic, then file)."""

    def __init__(self, ladle: LadleSettings) -> None:
        self.ladle = ladle
        self._source = None
        self._cache: dict[tuple[str, int], list[str] | None] = {}

    def _load_source(self):
        from workers.enricher.prompts import FilePromptSource
        from workers.enricher.settings import EnricherSettings

        es = EnricherSettings()
        if es.prompt_source == "file":
            return FilePromptSource(es.prompts_dir)
        from workers.enricher.topic_prompts import TopicPromptSource, TopicThenFile

        return (
            TopicPromptSource(self.ladle) if es.prompt_source == "topic" else TopicThenFile(self.ladle, es.prompts_dir)
        )

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
            self._source = SimpleNamespace(state=lambda _name: None)
            return None
        for v in state.versions if state else ():
            if v.version == ref.version:
                return list(v.variables)
        return None
