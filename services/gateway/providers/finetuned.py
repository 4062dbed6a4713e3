"""A fine-tuned model the gateway serves by its name, NAME@VERSION (a job's `fine_tuned_model`):
llama.cpp in the gateway's process with the version's merged model where this machine has one, else
the base GGUF with the adapter (shared.finetune's registry decides). Loaded on its first request."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import AsyncIterator
from pathlib import Path

from services.gateway.config import Deployment
from services.gateway.providers.base import UpstreamError
from services.gateway.providers.openai_compat import llama_cpp
from shared.finetune import AdapterRegistry
from shared.gguf import resolve_gguf
from shared.runtime.errors import UserError

REF = re.compile(r"^[A-Za-z0-9_.-]+@\d+$")
PASSED = ("max_tokens", "temperature", "top_p", "stop", "seed", "response_format", "presence_penalty",
          "frequency_penalty")  # fmt: skip


class FineTuned:
    def __init__(self, ref: str, model_path: str, lora_path: str | None, pricing_model: str) -> None:
        import llama_cpp as lc

        self.deployment = Deployment(name=ref, provider="openai_compatible", model=ref, max_retries=0,
                                     pricing_model=pricing_model, dialect="llama_cpp")  # fmt: skip
        kwargs = {"lora_path": lora_path} if lora_path else {}
        self.llm = lc.Llama(model_path=model_path, n_ctx=2048, n_threads=1, verbose=False, **kwargs)
        self._lock = threading.Lock()  # one llama context answers one request at a time

    def _run(self, body: dict) -> dict:
        args = {k: body[k] for k in PASSED if body.get(k) is not None}
        if "max_completion_tokens" in body and "max_tokens" not in args:
            args["max_tokens"] = body["max_completion_tokens"]
        with self._lock:
            try:
                out = self.llm.create_chat_completion(messages=body["messages"], **args)
            except ValueError as exc:  # a prompt over the context and the like: the request's fault
                raise UpstreamError(400, f"{self.deployment.name}: {exc}", fallback=False) from None
        return {**out, "model": self.deployment.name}

    async def complete(self, body: dict) -> dict:
        return await asyncio.to_thread(self._run, llama_cpp(body, self.deployment.name))

    async def stream(self, body: dict) -> AsyncIterator[dict]:
        """The whole answer as one chunk, then the finish (llama.cpp runs it in one go here)."""
        out = await self.complete(body)
        choice = out["choices"][0]
        base = {"id": out["id"], "object": "chat.completion.chunk", "created": out["created"], "model": out["model"]}
        yield {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": choice["message"]["content"]},
                                    "finish_reason": None}]}  # fmt: skip
        yield {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": choice["finish_reason"]}],
               "usage": out.get("usage")}  # fmt: skip

    async def embed(self, body: dict) -> dict:
        raise UpstreamError.cannot_serve(f"{self.deployment.name}: a fine-tuned chat model makes no embeddings")

    async def aclose(self) -> None:
        self.llm.close()


def resolver(data_dir: Path):
    """Router.resolve: NAME@VERSION of a registered adapter -> its provider; anything else -> None."""

    def resolve(model: str) -> FineTuned | None:
        if not REF.match(model):
            return None
        registry = AdapterRegistry(data_dir)
        try:
            card = registry.card(model)
            serving = registry.serving(model)
        except UserError:
            return None
        return FineTuned(model, serving.model_path or resolve_gguf(card.base), serving.lora_path, card.base_model)

    return resolve
