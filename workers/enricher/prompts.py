"""Versioned prompt templates with declared variables.

A ``PromptSource`` gives a prompt's ``PromptState`` (the prompts topic's own model);
``resolve`` picks a version by number or label. ``FilePromptSource`` reads
deploy/prompts/*.yaml, each file one PromptState; ``TopicPromptSource``
(topic_prompts.py) reads the registry's compacted prompts topic. Templates render
with the registry's own ``render``, so a prompt renders alike everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import yaml
from pydantic import ValidationError

from schemas import PromptRef, PromptState, PromptVersion
from shared.prompts.model import declared, render
from shared.runtime.errors import UserError


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
