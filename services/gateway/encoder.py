"""The gateway's sentence encoder: loaded once per process and model name, shared by the
semantic cache and the `ladle` embeddings provider (MiniLM is ~90 MB and seconds to load)."""

from __future__ import annotations

import asyncio
import threading
from functools import cache

from workers.embedder.model import Encoder

_load_lock = threading.Lock()


@cache
def _load(name: str) -> Encoder:
    from workers.guardrails.context import limit_threads

    encoder = Encoder.load(name)
    # One model thread: the event loop needs the other core, and on a busy box torch's
    # spinning threads make a 10 ms query take hundreds (as the guardrails found too).
    limit_threads(1)
    return encoder


def shared_encoder(name: str) -> Encoder:
    with _load_lock:  # two first callers must not load the model twice
        return _load(name)


async def encode(encoder: Encoder, texts: list[str]):
    """Off the event loop: torch releases the GIL, so other requests go on meanwhile."""
    return await asyncio.to_thread(encoder.encode, texts)
