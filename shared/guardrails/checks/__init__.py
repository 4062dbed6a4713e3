"""Guardrail checks, one module each, behind the ``Check`` protocol (checks/base.py).

Importing this package loads no model: a check loads what it needs when it is built
from a policy, through shared.guardrails.context (once per process).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from shared.guardrails.checks.base import BaseCheck, Check
from shared.guardrails.checks.consistency import ConsistencyCheck, ConsistencyConfig
from shared.guardrails.checks.injection import InjectionCheck, InjectionConfig
from shared.guardrails.checks.pii import PIICheck, PIIConfig
from shared.guardrails.checks.schema import SchemaCheck, SchemaConfig
from shared.guardrails.checks.size import SizeCheck, SizeConfig
from shared.guardrails.checks.taxonomy import TaxonomyCheck, TaxonomyConfig
from shared.guardrails.checks.toxicity import ToxicityCheck, ToxicityConfig

AnyCheckConfig = Annotated[
    SizeConfig | SchemaConfig | TaxonomyConfig | ConsistencyConfig | PIIConfig | InjectionConfig | ToxicityConfig,
    Field(discriminator="check"),
]

CHECKS: dict[str, type[BaseCheck]] = {
    c.name: c
    for c in (SizeCheck, SchemaCheck, TaxonomyCheck, ConsistencyCheck, PIICheck, InjectionCheck, ToxicityCheck)
}


def build(config, ctx) -> BaseCheck:
    return CHECKS[config.check](config, ctx)


__all__ = ["CHECKS", "AnyCheckConfig", "BaseCheck", "Check", "build"]
