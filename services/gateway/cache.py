"""Exact cache: the same model, messages and parameters (per team) get the stored answer."""

from __future__ import annotations

import hashlib
import json
import time
from collections import OrderedDict

# Parameters that change the answer; anything else (stream, user, metadata) does not.
KEYED = ("messages", "temperature", "top_p", "max_tokens", "max_completion_tokens", "stop", "seed",
         "response_format", "tools", "tool_choice", "n", "presence_penalty", "frequency_penalty", "logit_bias")  # fmt: skip


def cache_key(team: str, model: str, body: dict) -> str:
    keyed = {k: body[k] for k in KEYED if k in body}
    raw = json.dumps([team, model, keyed], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(raw.encode()).hexdigest()


class ExactCache:
    """An LRU with a TTL, in the gateway's memory (one gateway process per host)."""

    def __init__(self, ttl_s: float, max_entries: int) -> None:
        self.ttl_s, self.max_entries = ttl_s, max_entries
        self._data: OrderedDict[str, tuple[float, dict]] = OrderedDict()

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
        if self.max_entries <= 0 or self.ttl_s <= 0:
            return
        self._data[key] = (time.monotonic(), value)
        self._data.move_to_end(key)
        while len(self._data) > self.max_entries:
            self._data.popitem(last=False)
