"""Which collection readers and writers use, and the atomic switch to a new one.

A collection is named ``BASE__MODEL__DIMd`` (plus a build stamp for reindexes),
so the model and the dimension travel with it. On a Qdrant server, readers go
through an alias that one request re-points atomically. Qdrant Edge has no
aliases (one shard per folder), so the same contract is a pointer file,
``current.json``, replaced atomically with ``os.replace``.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import structlog

from shared.encoder import slug
from shared.runtime.errors import FatalError, UserError
from workers.embedder.settings import EmbedderSettings
from workers.embedder.store import EdgeStore, QdrantServerStore, VectorStore

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class CollectionInfo:
    name: str
    model: str
    dim: int
    created_at: str = ""


def collection_name(base: str, model: str, dim: int, stamp: str | None = None) -> str:
    name = f"{base}__{slug(model)}__{dim}d"
    return f"{name}__{stamp}" if stamp else name


def build_stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S")


def new_info(base: str, model: str, dim: int, stamp: str | None = None) -> CollectionInfo:
    return CollectionInfo(collection_name(base, model, dim, stamp), model, dim, datetime.now(UTC).isoformat())


class Collections(Protocol):
    kind: str

    def current(self) -> CollectionInfo | None: ...

    def create(self, info: CollectionInfo) -> VectorStore: ...

    def open(self, info: CollectionInfo) -> VectorStore: ...

    def open_reader(self, info: CollectionInfo) -> VectorStore:
        """A store for searches that follows the switch (the alias on a server)."""
        ...

    def switch(self, info: CollectionInfo) -> None:
        """Point readers (and the next start of the worker) at this collection, atomically."""
        ...

    def drop(self, name: str) -> None: ...

    def names(self) -> list[str]: ...


class EdgeCollections:
    """Collections as Qdrant Edge shards under ``root/collections/NAME``; ``root/current.json`` points at one."""

    kind = "edge"

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.pointer = self.root / "current.json"

    def _dir(self, name: str) -> Path:
        return self.root / "collections" / name

    def current(self) -> CollectionInfo | None:
        try:
            data = json.loads(self.pointer.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise FatalError(f"{self.pointer} is unreadable ({exc}); restore it or remove it to start afresh") from None
        return CollectionInfo(**{k: data[k] for k in ("name", "model", "dim", "created_at") if k in data})

    def create(self, info: CollectionInfo) -> EdgeStore:
        path = self._dir(info.name)
        if path.exists():
            cur = self.current()
            if cur is not None and cur.name == info.name:
                raise FatalError(f"collection {info.name} exists and is the current one")
            shutil.rmtree(path)  # a build that never switched (a crashed reindex)
        path.parent.mkdir(parents=True, exist_ok=True)
        store = EdgeStore.create(path, info.name, info.dim)
        (path.parent / f"{info.name}.json").write_text(json.dumps(asdict(info)))
        return store

    def open(self, info: CollectionInfo, *, load_states: bool = True) -> EdgeStore:
        path = self._dir(info.name)
        if not path.exists():
            raise FatalError(f"{self.pointer} names collection {info.name}, which is not at {path}")
        return EdgeStore.open(path, info.name, info.dim, load_states=load_states)

    def open_reader(self, info: CollectionInfo) -> EdgeStore:
        return self.open(info, load_states=False)

    def switch(self, info: CollectionInfo) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.pointer.with_name(f".current.{os.getpid()}.tmp")
        with open(tmp, "w") as fh:
            json.dump({**asdict(info), "switched_at": datetime.now(UTC).isoformat()}, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.pointer)  # readers see the old file or the new one, never half of one
        fd = os.open(self.root, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def drop(self, name: str) -> None:
        shutil.rmtree(self._dir(name), ignore_errors=True)
        (self.root / "collections" / f"{name}.json").unlink(missing_ok=True)

    def names(self) -> list[str]:
        base = self.root / "collections"
        return sorted(p.name for p in base.iterdir() if p.is_dir()) if base.exists() else []


class ServerCollections:
    """Collections on a Qdrant server; the alias (the settings' base name) is what readers query."""

    kind = "server"

    def __init__(self, client: Any, alias: str) -> None:
        self.client = client
        self.alias = alias

    def current(self) -> CollectionInfo | None:
        for a in self.client.get_aliases().aliases:
            if a.alias_name == self.alias:
                meta = self.client.get_collection(a.collection_name).config.metadata or {}
                if "model" not in meta or "dim" not in meta:
                    raise FatalError(f"collection {a.collection_name} behind alias {self.alias} has no model metadata")
                return CollectionInfo(a.collection_name, meta["model"], int(meta["dim"]), meta.get("created_at", ""))
        return None

    def create(self, info: CollectionInfo) -> QdrantServerStore:
        if self.client.collection_exists(info.name):
            cur = self.current()
            if cur is not None and cur.name == info.name:
                raise FatalError(f"collection {info.name} exists and is the current one")
            self.client.delete_collection(info.name)
        QdrantServerStore.create_collection(self.client, info.name, info.dim, asdict(info))
        return QdrantServerStore(self.client, info.name, info.dim)

    def open(self, info: CollectionInfo) -> QdrantServerStore:
        return QdrantServerStore(self.client, info.name, info.dim)

    def open_reader(self, info: CollectionInfo) -> QdrantServerStore:
        return QdrantServerStore(self.client, self.alias, info.dim)

    def switch(self, info: CollectionInfo) -> None:
        from qdrant_client import models

        ops: list = []
        if any(a.alias_name == self.alias for a in self.client.get_aliases().aliases):
            ops.append(models.DeleteAliasOperation(delete_alias=models.DeleteAlias(alias_name=self.alias)))
        ops.append(
            models.CreateAliasOperation(
                create_alias=models.CreateAlias(collection_name=info.name, alias_name=self.alias)
            )
        )
        self.client.update_collection_aliases(ops)  # one request: the server applies both or neither

    def drop(self, name: str) -> None:
        self.client.delete_collection(name)

    def names(self) -> list[str]:
        prefix = f"{self.alias}__"
        return sorted(c.name for c in self.client.get_collections().collections if c.name.startswith(prefix))


def qdrant_client_for(url: str, api_key: str | None = None, timeout_s: float = 30.0):
    try:
        from qdrant_client import QdrantClient
    except ImportError:
        raise UserError("LADLE_QDRANT_URL needs qdrant-client: pip install qdrant-client") from None
    if url == ":memory:":
        return QdrantClient(":memory:")
    if url.startswith("path:"):
        return QdrantClient(path=url[len("path:") :])
    return QdrantClient(url=url, api_key=api_key, timeout=int(timeout_s))


def collections_for(settings: EmbedderSettings, data_dir: Path) -> Collections:
    if settings.qdrant_url:
        client = qdrant_client_for(settings.qdrant_url, settings.qdrant_api_key, settings.qdrant_timeout_s)
        return ServerCollections(client, settings.collection)
    return EdgeCollections(Path(data_dir) / "embedder")
