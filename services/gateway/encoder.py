"""The gateway's sentence encoder: the process's shared one (shared.encoder), used by the
semantic cache and the `ladle` embeddings provider (MiniLM is ~90 MB and seconds to load)."""

from __future__ import annotations

import asyncio

from shared.encoder import Encoder, limit_threads
from shared.encoder import shared_encoder as _shared


def shared_encoder(name: str) -> Encoder:
    # One model thread: the event loop needs the other core, and on a busy box torch's
    # spinning threads make a 10 ms query take hundreds (as the guardrails found too).
    limit_threads(1)
    return _shared(name)


async def encode(encoder: Encoder, texts: list[str]):
    """Off the event loop: torch releases the GIL, so other requests go on meanwhile."""
    return await asyncio.to_thread(encoder.encode, texts)
