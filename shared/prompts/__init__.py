"""The prompt registry: immutable versions, movable labels, A/B splits, event-sourced in
the compacted `prompts` topic and materialized by every consumer (gateway, enricher)."""

from shared.prompts.model import PromptError, assign_label, diff, render, resolve, with_ab, with_label, with_version
from shared.prompts.registry import PromptRegistry

__all__ = [
    "PromptError",
    "PromptRegistry",
    "assign_label",
    "diff",
    "render",
    "resolve",
    "with_ab",
    "with_label",
    "with_version",
]
