"""Exact cache: the same model, messages and parameters (per team) get the stored answer."""

from __future__ import annotations

import hashlib
import json
import time
from collections import OrderedDict

# Fields that never change the answer. Everything else does, including parameters this
# file has never heard of (llama.cpp's `grammar`, vLLM's `min_p`): a list of what matters
# would serve one grammar's answer to another.
IGNORED = frozenset({"model", "stream", "stream_options", "user", "metadata", "store", "service_tier"})


def answer_fields(body: dict) -> dict:
    """What decides the answer, besides team and model: messages and every parameter."""
    return {k: v for k, v in body.items() if k not in IGNORED and not k.startswith("_")}


def digest(*parts: object) -> str:
    raw = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(raw.encode()).hexdigest()


def cache_key(team: str, model: str, body: dict) -> str:
    return digest(team, model, answer_fields(body))


class ExactCache:
    """An LRU with a TTL, in the gateway's memory (one gateway process per host)."""

    def __init__(self, ttl_s: float, max_entries: int) -> None:
        self.ttl_s, self.max_entries = ttl_s, max_entries
        self._data: OrderedDict[str, tuple[float, dict]] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self.max_entries > 0 and self.ttl_s > 0

    def get(self, key: str) -> dict | None:
        hit = self._data.get(key)
        if hit is None:
            return None
        stored, value = hit
        if time.monotonic() - stored > self.ttl_s:
            del self._data[key]
            return None
        self._data.move_to_end(key)
        return value

    def put(self, key: str, value: dict) -> None:
        if not self.enabled:
            return
        self._data[key] = (time.monotonic(), value)
        self._data.move_to_end(key)
        while len(self._data) > self.max_entries:
            self._data.popitem(last=False)
