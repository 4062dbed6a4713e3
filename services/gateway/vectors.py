"""The semantic cache's similarity search, in memory: per scope, a float32 matrix of unit
vectors and their sign bits (one bit per dimension, 48 bytes for MiniLM's 384).

A search ranks the scope's live entries by Hamming distance between sign bits (32x less
memory to read than float32, and no GIL held for long: each step is one numpy call), then
scores the closest ``RERANK`` exactly (float32 cosine) and returns the best few (the cache
verifies them in that order). Two vectors at cosine 0.95 differ in about 10% of their sign
bits, unrelated ones in 30-50%, so a cached paraphrase ranks far inside the first ``RERANK``;
one that does not is only a missed hit, never a wrong one (the caller's threshold and
verifier apply to the exact score). A
scope of at most ``RERANK`` entries is scored exactly. The Qdrant Edge shard stays the
store of record; this index is filled from it at start-up and kept in step by the cache.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

import numpy as np

RERANK = 256


def unit_rows(vectors) -> np.ndarray:
    m = np.asarray(vectors, dtype=np.float32).reshape(-1, np.shape(vectors)[-1])
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    return m / np.where(norms > 0, norms, 1.0)


def sign_bits(units: np.ndarray) -> np.ndarray:
    """(n, words) uint64: bit i set when dimension i is positive."""
    packed = np.packbits(units > 0, axis=1)
    words = -(-units.shape[1] // 64)
    padded = np.zeros((len(units), words * 8), np.uint8)
    padded[:, : packed.shape[1]] = packed
    return padded.view(np.uint64)


class ScopeVectors:
    """One scope's entries: ids, unit vectors, sign bits (one row per word) and creation times."""

    def __init__(self, dim: int) -> None:
        self.ids: list[str] = []
        self.rows: dict[str, int] = {}
        self.vectors = np.empty((8, dim), np.float32)
        self.bits = np.empty((-(-dim // 64), 8), np.uint64)  # word-major: each word's column is contiguous
        self.born = np.empty(8)

    def __len__(self) -> int:
        return len(self.ids)

    def add(self, id_: str, unit: np.ndarray, bits: np.ndarray, born: float) -> None:
        row = self.rows.get(id_)
        if row is None:
            row = self.rows[id_] = len(self.ids)
            self.ids.append(id_)
            if row == len(self.born):
                cap = 2 * row
                self.vectors = np.resize(self.vectors, (cap, self.vectors.shape[1]))
                self.bits = np.concatenate([self.bits, np.empty_like(self.bits)], axis=1)
                self.born = np.resize(self.born, cap)
        self.vectors[row], self.bits[:, row], self.born[row] = unit, bits, born

    def keep(self, mask: np.ndarray) -> None:
        """Drop the rows where mask is False (order kept)."""
        n, kept = len(self.ids), int(mask.sum())
        self.vectors[:kept] = self.vectors[:n][mask]
        self.bits[:, :kept] = self.bits[:, :n][:, mask]
        self.born[:kept] = self.born[:n][mask]
        self.ids = [i for i, k in zip(self.ids, mask, strict=True) if k]
        self.rows = {i: r for r, i in enumerate(self.ids)}

    def top(self, unit: np.ndarray, bits: np.ndarray, after: float, k: int) -> list[tuple[str, float]]:
        """The ``k`` live entries (born after ``after``) with the highest cosine among the RERANK
        closest in sign bits, best first."""
        n = len(self.ids)
        live = self.born[:n] > after
        if n > RERANK:
            dist = np.zeros(n, np.uint16)
            for w, word in enumerate(bits):
                dist += np.bitwise_count(self.bits[w, :n] ^ word)
            dist[~live] = np.iinfo(np.uint16).max
            rows = np.argpartition(dist, RERANK)[:RERANK]
        else:
            rows = np.arange(n)
        rows = rows[live[rows]]
        if not rows.size:
            return []
        scores = self.vectors[rows] @ unit
        best = np.argsort(-scores, kind="stable")[:k] if k > 1 else [int(np.argmax(scores))]
        return [(self.ids[rows[i]], float(scores[i])) for i in best]


class VectorIndex:
    """Every scope's vectors; thread-safe."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.scopes: dict[str, ScopeVectors] = {}
        self.scope_of: dict[str, str] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.scope_of)

    def add(self, entries: Iterable[tuple[str, str, object, float]]) -> None:
        """(id, scope, vector, created_at); an id already present is replaced (its scope must not change)."""
        entries = list(entries)
        if not entries:
            return
        units = unit_rows([vector for _, _, vector, _ in entries])
        bits = sign_bits(units)
        with self._lock:
            for (id_, scope, _, born), unit, code in zip(entries, units, bits, strict=True):
                self.scopes.setdefault(scope, ScopeVectors(self.dim)).add(id_, unit, code, born)
                self.scope_of[id_] = scope

    def remove(self, ids: Iterable[str]) -> None:
        with self._lock:
            by_scope: dict[str, set[str]] = {}
            for id_ in ids:
                if (scope := self.scope_of.pop(id_, None)) is not None:
                    by_scope.setdefault(scope, set()).add(id_)
            for scope, gone in by_scope.items():
                self._keep(scope, np.array([i not in gone for i in self.scopes[scope].ids], dtype=bool))

    def expire(self, before: float) -> None:
        """Drop every entry created at or before ``before``."""
        with self._lock:
            for scope, vectors in list(self.scopes.items()):
                live = vectors.born[: len(vectors)] > before
                if not live.all():
                    for id_, alive in zip(vectors.ids, live, strict=True):
                        if not alive:
                            del self.scope_of[id_]
                    self._keep(scope, live)

    def _keep(self, scope: str, mask: np.ndarray) -> None:
        if mask.any():
            self.scopes[scope].keep(mask)
        else:
            del self.scopes[scope]

    def nearest(self, scope: str, vector, after: float) -> tuple[str, float] | None:
        """(id, cosine) of the scope's closest entry created after ``after``; None when it has none."""
        best = self.top(scope, vector, after, 1)
        return best[0] if best else None

    def top(self, scope: str, vector, after: float, k: int) -> list[tuple[str, float]]:
        """(id, cosine) of the scope's ``k`` closest entries created after ``after``, best first."""
        unit = unit_rows(vector)
        bits = sign_bits(unit)[0]
        with self._lock:
            vectors = self.scopes.get(scope)
            return vectors.top(unit[0], bits, after, k) if vectors is not None else []
