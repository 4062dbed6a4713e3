"""Cascade versions and labels, as prompts have them: immutable numbered versions, movable labels
(`production`, `staging`, ...), every move recorded with the release gate's verdict.

Shipped versions live in the repo (deploy/cascades/NAME/vN/), versions trained here under
<LADLE_DATA_DIR>/cascades/NAME/vN/; one view over both (a shipped version wins a clash of
numbers). Labels: deploy/cascades/NAME/labels.json ships them, <data>/cascades/NAME/labels.json
holds the moves made here and overrides it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError

from schemas.prompts import LabelMove
from shared.cascade import model
from shared.cascade.card import CascadeCard
from shared.runtime.errors import UserError
from shared.settings import REPO_ROOT

SHIPPED = REPO_ROOT / "deploy" / "cascades"
DEFAULT_LABEL = "production"
LABELS = "labels.json"
_VERSION_DIR = re.compile(r"^v(\d+)$")


class LabelFile(BaseModel):
    labels: dict[str, int] = Field(default_factory=dict)
    history: list[LabelMove] = Field(default_factory=list)


@dataclass(frozen=True)
class VersionEntry:
    version: int
    path: Path
    origin: Literal["shipped", "trained"]


class CascadeRegistry:
    def __init__(self, data_dir: Path, shipped: Path = SHIPPED) -> None:
        self.roots = {"shipped": shipped, "trained": Path(data_dir) / "cascades"}

    def names(self) -> list[str]:
        found = {p.name for root in self.roots.values() if root.is_dir() for p in root.iterdir() if p.is_dir()}
        return sorted(n for n in found if self.versions(n))

    def versions(self, name: str) -> dict[int, VersionEntry]:
        out: dict[int, VersionEntry] = {}
        for origin in ("trained", "shipped"):  # shipped last: it wins a clash
            folder = self.roots[origin] / name
            for p in folder.iterdir() if folder.is_dir() else ():
                m = _VERSION_DIR.match(p.name)
                if m and (p / model.CARD).is_file():
                    out[int(m.group(1))] = VersionEntry(int(m.group(1)), p, origin)  # type: ignore[arg-type]
        return dict(sorted(out.items()))

    def _label_file(self, origin: str, name: str) -> LabelFile:
        path = self.roots[origin] / name / LABELS
        if not path.is_file():
            return LabelFile()
        try:
            return LabelFile.model_validate_json(path.read_text())
        except (OSError, ValidationError) as exc:
            raise UserError(f"{path} is unreadable: {' '.join(str(exc).split())[:200]}") from None

    def labels(self, name: str) -> dict[str, int]:
        return {**self._label_file("shipped", name).labels, **self._label_file("trained", name).labels}

    def history(self, name: str) -> list[LabelMove]:
        moves = self._label_file("shipped", name).history + self._label_file("trained", name).history
        return sorted(moves, key=lambda m: m.at)

    def resolve(self, ref: str) -> tuple[str, int]:
        """``name@version``, ``name@label`` or ``name`` (its production label) -> (name, version)."""
        name, _, which = ref.partition("@")
        versions = self.versions(name)
        if not versions:
            raise UserError(f"no cascade {name!r}; known: {', '.join(self.names()) or 'none'} "
                            "(`ladle cascade train` makes one)")  # fmt: skip
        which = which or DEFAULT_LABEL
        if which.isdigit():
            version = int(which)
        else:
            labels = self.labels(name)
            if which not in labels:
                raise UserError(f"cascade {name} has no label {which!r}; labels: "
                                f"{', '.join(f'{k}={v}' for k, v in sorted(labels.items())) or 'none'}")  # fmt: skip
            version = labels[which]
        if version not in versions:
            raise UserError(f"cascade {name} has no version {version}; versions: {', '.join(map(str, versions))}")
        return name, version

    def entry(self, ref: str) -> VersionEntry:
        name, version = self.resolve(ref)
        return self.versions(name)[version]

    def card(self, ref: str) -> CascadeCard:
        return model.read_card(self.entry(ref).path)

    def load(self, ref: str) -> model.Cascade:
        return model.load(self.entry(ref).path)

    def next_version(self, name: str, root: Path | None = None) -> tuple[int, Path]:
        """The next version number over both places, and its folder under ``root`` (default: the data dir)."""
        version = max(self.versions(name), default=0) + 1
        return version, (root or self.roots["trained"]) / name / f"v{version}"

    def move(self, name: str, label: str, version: int, **move) -> LabelMove:
        """Point ``label`` at ``version`` here (the data dir); ``move`` (by, gate, forced, reason) is recorded."""
        if version not in self.versions(name):
            raise UserError(f"cascade {name} has no version {version}")
        lf = self._label_file("trained", name)
        record = LabelMove(label=label, version=version, previous=self.labels(name).get(label), **move)
        lf.labels[label] = version
        lf.history.append(record)
        path = self.roots["trained"] / name / LABELS
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(lf.model_dump_json(indent=1) + "\n")
        tmp.replace(path)
        return record
