"""Guardrail policies: per use case, which checks run, their thresholds, and the action a
failure triggers. YAML (deploy/guardrails/policies.yaml) validated by pydantic; a typo
in a key is an error, not a silently ignored setting.

``policy_version`` is the policy's explicit ``version`` plus a hash of its validated
content and of the taxonomy it checks against: editing a threshold without bumping
the version still yields a new version, so verdicts say exactly what judged them.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from shared.guardrails.checks import AnyCheckConfig
from shared.runtime.errors import UserError
from shared.settings import REPO_ROOT
from shared.taxonomy import Taxonomy
from shared.yamlfile import read_mapping

DEFAULT_FILE = REPO_ROOT / "deploy" / "guardrails" / "policies.yaml"


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str = Field(min_length=1, description="Bump when the policy's intent changes.")
    description: str = ""
    on_error: str = Field(default="review", pattern="^(review|reject)$", description="When a check itself fails.")
    taxonomy: Path | None = Field(
        default=None, description="This policy's own taxonomy (a use case with other fields); default: the file's."
    )
    checks: tuple[AnyCheckConfig, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _distinct(self) -> Policy:
        names = [c.check for c in self.checks]
        if len(set(names)) != len(names):
            raise ValueError(f"a check appears twice: {sorted(n for n in names if names.count(n) > 1)}")
        return self

    def content_hash(self, taxonomy: Taxonomy | None) -> str:
        body = json.dumps([self.model_dump(mode="json"), taxonomy.digest if taxonomy else ""], sort_keys=True)
        return hashlib.sha256(body.encode()).hexdigest()[:10]


class PolicyFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    taxonomy: Path | None = Field(default=None, description="The tag taxonomy (the enricher's file).")
    tag_descriptions: Path | None = Field(default=None, description="Descriptions of tag values (consistency).")
    default: str = Field(description="The policy of a use case not listed in use_cases.")
    use_cases: dict[str, str] = Field(default_factory=dict, description="Use case (a result's task) -> policy.")
    policies: dict[str, Policy] = Field(min_length=1)

    @model_validator(mode="after")
    def _known(self) -> PolicyFile:
        for where, name in [("default", self.default), *((f"use_cases.{k}", v) for k, v in self.use_cases.items())]:
            if name not in self.policies:
                raise ValueError(f"{where} names policy {name!r}, which is not defined")
        return self


class PolicySet:
    """A loaded policy file: its policies, their versions, and the taxonomy each checks against."""

    def __init__(
        self, file: PolicyFile, taxonomy: Taxonomy | None, source: str = "", own: dict[str, Taxonomy] | None = None
    ) -> None:
        self.file = file
        self.taxonomy = taxonomy  # the file's, shared by every policy without one of its own
        self.source = source
        self.taxonomies = {n: (own or {}).get(n, taxonomy) for n in file.policies}
        self.versions = {n: f"{p.version}-{p.content_hash(self.taxonomies[n])}" for n, p in file.policies.items()}

    def name_for(self, use_case: str | None) -> str:
        return self.file.use_cases.get(use_case or "", self.file.default)

    def policy(self, name: str) -> Policy:
        try:
            return self.file.policies[name]
        except KeyError:
            raise UserError(f"unknown policy {name!r}; known: {', '.join(sorted(self.file.policies))}") from None


def _resolve(path: Path | None, base: Path) -> Path | None:
    if path is None or path.is_absolute():
        return path
    return base / path if (base / path).exists() else REPO_ROOT / path


def load_policies(path: str | Path | None = None) -> PolicySet:
    path = Path(path or DEFAULT_FILE)
    raw = read_mapping(path, "policy")
    try:
        file = PolicyFile.model_validate(raw)
    except ValidationError as exc:
        from shared.runtime.codec import one_line

        raise UserError(f"policy file {path} is invalid: {one_line(exc)}") from None
    taxonomy = None
    if file.taxonomy is not None:
        taxonomy = Taxonomy.load(_resolve(file.taxonomy, path.parent), _resolve(file.tag_descriptions, path.parent))
    own = {n: Taxonomy.load(_resolve(p.taxonomy, path.parent)) for n, p in file.policies.items() if p.taxonomy}
    return PolicySet(file, taxonomy, str(path), own)
