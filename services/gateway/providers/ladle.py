"""Ladle's own embeddings: the bundled MiniLM in the gateway process, OpenAI's response shape.

`encoding_format: base64` is honoured because the official openai client asks for it
whenever its caller did not choose (and decodes it back to floats): little-endian
float32, as OpenAI sends it. Encoding runs in a worker thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator

import numpy as np

from services.gateway.config import Deployment
from services.gateway.encoder import shared_encoder
from services.gateway.providers.base import UpstreamError

MAX_INPUTS = 2048  # OpenAI's limit per request


class LadleEmbeddings:
    def __init__(self, deployment: Deployment, encoder=None) -> None:
        self.deployment = deployment
        self.encoder = encoder or shared_encoder(deployment.model)

    def _refuse(self, message: str) -> UpstreamError:
        return UpstreamError(400, f"{self.deployment.name}: {message}", fallback=False)

    def texts(self, body: dict) -> list[str]:
        raw = body.get("input")
        texts = [raw] if isinstance(raw, str) else raw
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
            raise self._refuse("`input` must be a string or a non-empty list of strings (token ids are not accepted)")
        if len(texts) > MAX_INPUTS:
            raise self._refuse(f"at most {MAX_INPUTS} inputs per request, got {len(texts)}")
        dims = body.get("dimensions")
        if dims is not None and dims != self.encoder.dim:
            raise self._refuse(f"this model has {self.encoder.dim} dimensions; `dimensions` {dims} is not supported")
        if body.get("encoding_format", "float") not in ("float", "base64"):
            raise self._refuse("`encoding_format` must be float or base64")
        return texts

    def tokens(self, texts: list[str]) -> int:
        """Tokens the model read: special tokens included, each text cut at the model's maximum."""
        model = self.encoder.model
        with self.encoder._lock:  # the encoder's lock guards its tokenizer too
            ids = model.tokenizer(texts, truncation=True, max_length=model.max_seq_length)["input_ids"]
        return sum(len(i) for i in ids)

    def _run(self, texts: list[str]) -> tuple[np.ndarray, int]:
        return self.encoder.encode(texts), self.tokens(texts)

    async def embed(self, body: dict) -> dict:
        texts = self.texts(body)
        vectors, tokens = await asyncio.to_thread(self._run, texts)
        if body.get("encoding_format") == "base64":
            data = [base64.b64encode(v.astype("<f4").tobytes()).decode() for v in vectors]
        else:
            data = vectors.tolist()
        return {
            "object": "list",
            "data": [{"object": "embedding", "index": i, "embedding": e} for i, e in enumerate(data)],
            "model": self.deployment.model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }

    async def complete(self, body: dict) -> dict:
        raise UpstreamError(400, f"{self.deployment.name}: serves embeddings only; ask a chat model", fallback=False)

    async def stream(self, body: dict) -> AsyncIterator[dict]:
        raise UpstreamError(400, f"{self.deployment.name}: serves embeddings only; ask a chat model", fallback=False)
        yield {}  # noqa: V201 - an async generator, like every provider's stream

    async def aclose(self) -> None:
        pass
