"""Opening a Qdrant Edge shard (qdrant-edge-py, in-process): one opener for every owner.

Edge admits one process per folder and says so with a lock error; an owner (the
embedder's index, the gateway's semantic cache) turns that into a one-line fatal error
that names who holds it.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from shared.runtime.errors import FatalError


def edge():
    """The qdrant_edge module, or a one-line error naming the package."""
    try:
        import qdrant_edge
    except ImportError:
        raise FatalError("Qdrant Edge is not installed: pip install qdrant-edge-py") from None
    return qdrant_edge


def open_shard(
    folder: Path,
    what: str,
    held_by: str,
    *,
    create: dict[str, int] | None = None,
    keyword_indexes: Iterable[str] = (),
    float_indexes: Iterable[str] = (),
):
    """The shard in ``folder``; with ``create`` ({vector name: dim}) an empty or missing folder
    gets a new cosine shard with these payload indexes. ``what`` names the shard and
    ``held_by`` who else may hold it, in the error when another process does."""
    q = edge()
    try:
        if create is None or (folder.exists() and any(folder.iterdir())):
            return q.EdgeShard.load(str(folder))
        folder.mkdir(parents=True, exist_ok=True)
        shard = q.EdgeShard.create(
            str(folder),
            q.EdgeConfig(
                vectors={
                    name: q.EdgeVectorParams(size=dim, distance=q.Distance.Cosine) for name, dim in create.items()
                },
                payload_memory=q.Memory.Cached,
            ),
        )
        for field in keyword_indexes:
            shard.update(q.UpdateOperation.create_field_index(field, q.PayloadSchemaType.Keyword))
        for field in float_indexes:
            shard.update(q.UpdateOperation.create_field_index(field, q.PayloadSchemaType.Float))
        return shard
    except Exception as exc:  # noqa: BLE001 - the binding raises plain exceptions
        if "WouldBlock" in str(exc) or "lock" in str(exc).lower():
            raise FatalError(f"{what} at {folder} is open in another process: {held_by}") from None
        raise FatalError(f"cannot open {what} at {folder}: {exc}") from None
