"""Prompts from the compacted prompts topic, through the shared registry (shared/prompts)
that the gateway and `ladle prompts push|promote` write.

Read once at start-up to the topic's end; a new version or a moved label takes
effect at the next start, and results then carry the new version (which re-tags
the items: the version is part of what "already enriched" means).
"""

from __future__ import annotations

import structlog

from schemas import PromptState
from shared.runtime.errors import LadleError
from shared.settings import LadleSettings
from workers.enricher.prompts import FilePromptSource, PromptSource

log = structlog.get_logger(__name__)


class TopicPromptSource:
    def __init__(self, settings: LadleSettings) -> None:
        from shared.prompts import PromptRegistry

        self.registry = PromptRegistry(settings).load()

    def __str__(self) -> str:
        return f"topic {self.registry.topic} (push it with `ladle prompts push`)"

    def state(self, name: str) -> PromptState | None:
        return self.registry.states.get(name)


class TopicThenFile:
    """``auto``: the registry's prompt when the topic has it, else the versioned file."""

    def __init__(self, settings: LadleSettings, folder) -> None:
        self.file = FilePromptSource(folder)
        try:
            self.topic: PromptSource | None = TopicPromptSource(settings)
        except LadleError as exc:  # no broker (an offline `ladle enrich --no-publish`) or no topic yet
            log.warning("prompts.topic_unavailable", error=str(exc)[:300], using=str(self.file))
            self.topic = None

    def __str__(self) -> str:
        return f"{self.topic} or {self.file}" if self.topic else str(self.file)

    def state(self, name: str) -> PromptState | None:
        state = self.topic.state(name) if self.topic else None
        if state is None:
            state = self.file.state(name)
            if state is not None:
                log.info("prompts.from_file", prompt=name, folder=str(self.file))
        return state
