"""Versioned artifacts with movable labels, one pattern for every kind (cascades, fine-tuned
adapters): immutable numbered versions, labels (`production`, `staging`, ...) that move, every
move recorded with the release gate's verdict.

Shipped versions live in the repo (deploy/KIND/NAME/vN/), versions made here under
<LADLE_DATA_DIR>/KIND/NAME/vN/; one view over both (a shipped version wins a clash of numbers).
Labels: deploy/KIND/NAME/labels.json ships them, <data>/KIND/NAME/labels.json holds the moves
made here and overrides it. A version folder counts once its card file is there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError

from schemas.prompts import LabelMove
from shared.runtime.errors import UserError

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


class VersionedRegistry:
    kind = "artifact"  # what one is called in messages
    card_file = "card.json"  # a version folder counts once this file is in it
    how_to_make = ""  # the command that makes one, for the error that finds none

    def __init__(self, shipped: Path, trained: Path) -> None:
        self.roots = {"shipped": Path(shipped), "trained": Path(trained)}

    def names(self) -> list[str]:
        found = {p.name for root in self.roots.values() if root.is_dir() for p in root.iterdir() if p.is_dir()}
        return sorted(n for n in found if self.versions(n))

    def versions(self, name: str) -> dict[int, VersionEntry]:
        out: dict[int, VersionEntry] = {}
        for origin in ("trained", "shipped"):  # shipped last: it wins a clash
            folder = self.roots[origin] / name
            for p in folder.iterdir() if folder.is_dir() else ():
                m = _VERSION_DIR.match(p.name)
                if m and (p / self.card_file).is_file():
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
            raise UserError(f"no {self.kind} {name!r}; known: {', '.join(self.names()) or 'none'}"
                            + (f" (`{self.how_to_make}` makes one)" if self.how_to_make else ""))  # fmt: skip
        which = which or DEFAULT_LABEL
        if which.isdigit():
            version = int(which)
        else:
            labels = self.labels(name)
            if which not in labels:
                raise UserError(f"{self.kind} {name} has no label {which!r}; labels: "
                                f"{', '.join(f'{k}={v}' for k, v in sorted(labels.items())) or 'none'}")  # fmt: skip
            version = labels[which]
        if version not in versions:
            raise UserError(f"{self.kind} {name} has no version {version}; versions: {', '.join(map(str, versions))}")
        return name, version

    def entry(self, ref: str) -> VersionEntry:
        name, version = self.resolve(ref)
        return self.versions(name)[version]

    def next_version(self, name: str, root: Path | None = None) -> tuple[int, Path]:
        """The next version number over both places, and its folder under ``root`` (default: the data dir)."""
        version = max(self.versions(name), default=0) + 1
        return version, (root or self.roots["trained"]) / name / f"v{version}"

    def move(self, name: str, label: str, version: int, **move) -> LabelMove:
        """Point ``label`` at ``version`` here (the data dir); ``move`` (by, gate, forced, reason) is recorded."""
        if version not in self.versions(name):
            raise UserError(f"{self.kind} {name} has no version {version}")
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
