"""What every check's policy entry shares."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Side = Literal["inputs", "outputs"]


class CheckConfig(BaseModel):
    """One entry of a policy's ``checks`` list. Subclasses narrow ``action`` to what makes sense."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    check: str
    scope: tuple[Side, ...] = Field(default=("inputs", "outputs"), description="Which texts of the subject to examine.")
