"""Where a use case's prompt comes from, and the checked version it uses.

A ``PromptSource`` gives a prompt's ``PromptState`` (the prompts topic's own model);
``resolve`` picks a version by number or label. ``FilePromptSource`` reads
deploy/prompts/*.yaml, each file one PromptState; ``TopicPromptSource`` reads the
registry's compacted prompts topic (what the gateway and `ladle prompts push|promote`
write), once to its end: a new version or a moved label takes effect at the next start.
``prompt_source`` is the one place that picks a source by name (file, topic, auto).
Templates render with the registry's own ``render``, so a prompt renders alike everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import structlog
import yaml
from pydantic import ValidationError

from schemas import PromptRef, PromptState, PromptVersion
from shared.prompts.model import declared, render
from shared.runtime.errors import LadleError, UserError
from shared.settings import LadleSettings

log = structlog.get_logger(__name__)
SOURCES = ("file", "topic", "auto")


class PromptSource(Protocol):
    def state(self, name: str) -> PromptState | None: ...


@dataclass(frozen=True)
class Prompt:
    """One version of one prompt, checked: its template uses exactly its declared variables."""

    name: str
    version: PromptVersion
    label: str | None = None

    def __post_init__(self) -> None:
        undeclared = set(declared(self.version.template)) - set(self.version.variables)
        if undeclared:
            raise UserError(
                f"prompt {self.name} v{self.version.version}: template uses undeclared variable(s) {sorted(undeclared)}"
            )

    @property
    def ref(self) -> PromptRef:
        return PromptRef(name=self.name, version=self.version.version, label=self.label)

    def render(self, variables: dict[str, str]) -> list[dict[str, str]]:
        """Chat messages; a ``system`` parameter becomes the system message."""
        user = render(self.version, variables)
        system = self.version.parameters.get("system")
        return ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": user}]


def resolve(source: PromptSource, name: str, *, version: int | None = None, label: str | None = "production") -> Prompt:
    state = source.state(name)
    if state is None:
        raise UserError(f"prompt {name!r} not found in {source}")
    by_version = {v.version: v for v in state.versions}
    if version is None:
        if label and label in state.labels:
            version = state.labels[label]
        elif by_version:
            version, label = max(by_version), None  # no such label: the latest version
    if version not in by_version:
        raise UserError(f"prompt {name!r} has no version {version}; it has {sorted(by_version)}")
    return Prompt(name, by_version[version], label if label and state.labels.get(label) == version else None)


class FilePromptSource:
    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    def __str__(self) -> str:
        return str(self.folder)

    def state(self, name: str) -> PromptState | None:
        for path in sorted(self.folder.glob("*.yaml")):
            try:
                data = yaml.safe_load(path.read_text())
            except yaml.YAMLError as exc:
                raise UserError(f"prompt file {path} is not YAML: {' '.join(str(exc).split())[:200]}") from None
            if isinstance(data, dict) and data.get("name") == name:
                try:
                    return PromptState.model_validate(data)
                except ValidationError as exc:
                    raise UserError(f"prompt file {path} is invalid: {' '.join(str(exc).split())[:300]}") from None
        return None


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


def prompt_source(kind: str, folder: str | Path, ladle: LadleSettings) -> PromptSource:
    """``file``: the versioned files in ``folder``; ``topic``: the registry; ``auto``: the
    registry's prompt when the topic has it, else the file."""
    if kind == "file":
        return FilePromptSource(folder)
    if kind == "topic":
        return TopicPromptSource(ladle)
    if kind == "auto":
        return TopicThenFile(ladle, folder)
    raise UserError(f"unknown prompt source {kind!r}; one of {', '.join(SOURCES)}")
