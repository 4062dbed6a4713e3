"""Cascade versions and labels, as prompts have them (the pattern is shared.versions'):
shipped versions in deploy/cascades/NAME/vN/, trained ones under <LADLE_DATA_DIR>/cascades/NAME/vN/."""

from __future__ import annotations

from pathlib import Path

from shared.cascade import model
from shared.cascade.card import CascadeCard
from shared.settings import REPO_ROOT
from shared.versions import DEFAULT_LABEL, VersionedRegistry

SHIPPED = REPO_ROOT / "deploy" / "cascades"

__all__ = ["DEFAULT_LABEL", "SHIPPED", "CascadeRegistry"]


class CascadeRegistry(VersionedRegistry):
    kind = "cascade"
    card_file = model.CARD
    how_to_make = "ladle cascade train"

    def __init__(self, data_dir: Path, shipped: Path = SHIPPED) -> None:
        super().__init__(shipped, Path(data_dir) / "cascades")

    def card(self, ref: str) -> CascadeCard:
        return model.read_card(self.entry(ref).path)

    def load(self, ref: str) -> model.Cascade:
        return model.load(self.entry(ref).path)
