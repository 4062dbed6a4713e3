"""Pure operations on PromptState: each returns the next state (revision + 1), never mutates."""

from __future__ import annotations

import difflib
import hashlib
import re
import string

from schemas import PromptState, PromptVersion
from schemas.prompts import LabelMove
from shared.runtime.errors import UserError

DEFAULT_LABEL = "production"
LABEL_RE = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


class PromptError(UserError):
    pass


class PromptNotFound(PromptError):
    """No prompt has this name (the gateway answers 404, other prompt errors 400)."""


def declared(template: str) -> list[str]:
    """The {variables} a template uses, in order of first use."""
    names = [f for _, f, _, _ in string.Formatter().parse(template) if f]
    return list(dict.fromkeys(names))


def _next(state: PromptState, **changes) -> PromptState:
    data = state.model_dump(exclude={"event_id", "occurred_at"})
    data.update(changes, revision=state.revision + 1, event_id="")
    return PromptState.model_validate(data)


def with_version(state: PromptState | None, name: str, template: str, variables: list[str] | None = None,
                 model: str | None = None, parameters: dict | None = None, created_by: str = "") -> PromptState:  # fmt: skip
    used = declared(template)
    variables = list(variables) if variables is not None else used
    missing = [v for v in used if v not in variables]
    if missing:
        raise PromptError(f"template uses undeclared variable(s) {', '.join(missing)}; declare them with --var")
    state = state or PromptState(name=name, revision=0)
    number = max((v.version for v in state.versions), default=0) + 1
    version = PromptVersion(version=number, template=template, variables=variables, model=model,
                            parameters=parameters or {}, created_by=created_by)  # fmt: skip
    return _next(state, versions=[*state.versions, version])


def with_label(
    state: PromptState, label: str, version: int, *, by: str = "", gate: str = "", forced: bool = False,
    reason: str = "",
) -> PromptState:  # fmt: skip
    """The label moved to ``version``, the move recorded in the prompt's history."""
    if not LABEL_RE.match(label):
        raise PromptError(f"bad label {label!r}: lowercase letters, digits, - and _, up to 32")
    if not any(v.version == version for v in state.versions):
        raise PromptError(f"{state.name} has no version {version}; it has {[v.version for v in state.versions]}")
    move = LabelMove(label=label, version=version, previous=state.labels.get(label), by=by, gate=gate, forced=forced,
                     reason=reason)  # fmt: skip
    return _next(state, labels={**state.labels, label: version}, history=[*state.history, move])


def with_ab(state: PromptState, weights: dict[str, float]) -> PromptState:
    unknown = [label for label in weights if label not in state.labels]
    if unknown:
        raise PromptError(
            f"{state.name} has no label(s) {', '.join(unknown)}; labels: {', '.join(state.labels) or 'none'}"
        )
    if weights and (any(w < 0 for w in weights.values()) or sum(weights.values()) <= 0):
        raise PromptError("A/B weights must be non-negative and add up to more than 0")
    return _next(state, ab_weights=dict(weights))


def assign_label(state: PromptState, user: str | None) -> str:
    """The label a user gets: sticky (a hash of name and user), in proportion to the weights."""
    if not state.ab_weights:
        return DEFAULT_LABEL
    total = sum(state.ab_weights.values())
    point = int(hashlib.sha256(f"{state.name}\x1f{user or ''}".encode()).hexdigest()[:15], 16) / 16**15 * total
    for label, weight in sorted(state.ab_weights.items()):
        if point < weight:
            return label
        point -= weight
    return sorted(state.ab_weights)[-1]


def resolve(state: PromptState, label: str | None = None, user: str | None = None) -> tuple[str, PromptVersion]:
    label = label or assign_label(state, user)
    number = state.labels.get(label)
    if number is None:
        raise PromptError(f"{state.name} has no label {label!r}; labels: {', '.join(state.labels) or 'none'}")
    return label, next(v for v in state.versions if v.version == number)


def render(version: PromptVersion, variables: dict[str, object]) -> str:
    missing = [v for v in version.variables if v not in variables]
    if missing:
        raise PromptError(f"missing variable(s) {', '.join(missing)} for this prompt")
    return version.template.format_map({k: variables[k] for k in version.variables})


def diff(state: PromptState, a: int, b: int) -> str:
    by = {v.version: v for v in state.versions}
    for n in (a, b):
        if n not in by:
            raise PromptError(f"{state.name} has no version {n}")
    return "".join(difflib.unified_diff(by[a].template.splitlines(True), by[b].template.splitlines(True),
                                        f"{state.name}@{a}", f"{state.name}@{b}"))  # fmt: skip
