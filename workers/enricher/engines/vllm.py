"""vLLM on GPUs: its async engine batches every request in flight (continuous batching),
constrains output with guided (structured-output) JSON decoding, serves LoRA
adapters, and shards a model over GPUs with tensor parallelism.

vLLM is imported when the engine is built, inside the actor, so CPU machines never
need it. Params: ``tensor_parallel_size`` (the actor reserves ``num_gpus``, which
defaults to it), ``gpu_memory_utilization``, ``max_model_len``, ``dtype``,
``quantization``, ``lora_adapters`` ({name: path}; enables LoRA), ``lora``
(the adapter every request uses unless a request names another), ``max_lora_rank``,
and any other ``AsyncEngineArgs`` field under ``engine_kwargs``.
"""

from __future__ import annotations

import inspect
import time
import uuid

from workers.enricher.engines import require
from workers.enricher.engines.base import EngineRequest, EngineResult, failed

ENGINE_ARGS = ("tensor_parallel_size", "gpu_memory_utilization", "max_model_len", "dtype", "quantization", "seed")


def guided_json(schema: dict, vllm_sampling) -> dict:
    """SamplingParams kwargs for JSON-schema decoding, across vLLM's two spellings of it."""
    if hasattr(vllm_sampling, "StructuredOutputsParams"):  # vLLM >= 0.10.2
        return {"structured_outputs": vllm_sampling.StructuredOutputsParams(json=schema)}
    return {"guided_decoding": vllm_sampling.GuidedDecodingParams(json=schema)}


def lora_adapters(params: dict) -> dict[str, str]:
    """{name: PEFT folder} for ``--enable-lora``: ``lora_adapters`` as given, plus a ``lora`` that names a
    registry adapter (``ladle finetune create``; NAME@VERSION) rather than one of them."""
    adapters = dict(params.get("lora_adapters") or {})
    ref = params.get("lora")
    if ref and ref not in adapters:
        from shared.finetune import AdapterRegistry
        from shared.settings import ladle_settings

        adapters[ref] = str(AdapterRegistry(ladle_settings().data_dir).peft_dir(ref))
    return adapters


class VLLMEngine:
    name = "vllm"

    def __init__(self, model: str, params: dict) -> None:
        vllm = require("vllm", "vllm")
        self._sampling = require("vllm.sampling_params", "vllm")
        self.model = model
        self.params = params
        self.adapters: dict[str, object] = {}
        args = {k: params[k] for k in ENGINE_ARGS if k in params}
        adapters = lora_adapters(params)
        if adapters:
            args.update(enable_lora=True, max_loras=len(adapters), max_lora_rank=int(params.get("max_lora_rank", 16)))
            lora = require("vllm.lora.request", "vllm")
            for i, (name, path) in enumerate(sorted(adapters.items()), start=1):
                self.adapters[name] = lora.LoRARequest(name, i, path)
        args.update(params.get("engine_kwargs", {}))
        self.engine = vllm.AsyncLLMEngine.from_engine_args(
            vllm.AsyncEngineArgs(model=params.get("path", model), **args)
        )
        self._tokenizer = None

    async def generate(self, requests: list[EngineRequest]) -> list[EngineResult]:
        import asyncio

        # Everything at once: vLLM's scheduler batches what is in flight.
        return list(await asyncio.gather(*(self.generate_one(r) for r in requests)))

    async def _prompt(self, messages: list[dict]) -> str:
        if self._tokenizer is None:
            tok = self.engine.get_tokenizer()
            self._tokenizer = await tok if inspect.isawaitable(tok) else tok
        return self._tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def sampling_params(self, req: EngineRequest):
        kwargs = {"max_tokens": req.max_tokens, "temperature": req.temperature}
        kwargs.update({k: req.params[k] for k in ("seed", "top_p", "top_k", "stop") if k in req.params})
        if req.json_schema is not None:
            kwargs.update(guided_json(req.json_schema, self._sampling))
        return self._sampling.SamplingParams(**kwargs)

    async def generate_one(self, req: EngineRequest) -> EngineResult:
        t0 = time.perf_counter()
        first, final = None, None
        adapter = req.params.get("lora", self.params.get("lora"))
        try:
            prompt = await self._prompt(req.messages)
            stream = self.engine.generate(
                prompt,
                self.sampling_params(req),
                f"{req.id}-{uuid.uuid4().hex[:8]}",
                lora_request=self.adapters[adapter] if adapter else None,
            )
            async for out in stream:
                if first is None and out.outputs and out.outputs[0].token_ids:
                    first = time.perf_counter()
                final = out
        except (ValueError, KeyError) as exc:  # prompt too long, unknown adapter: this request only
            return failed(req, exc, latency_ms=(time.perf_counter() - t0) * 1000)
        completion = final.outputs[0]
        return EngineResult(
            id=req.id,
            text=completion.text,
            input_tokens=len(final.prompt_token_ids or ()),
            output_tokens=len(completion.token_ids),
            cached_input_tokens=getattr(final, "num_cached_tokens", 0) or 0,
            latency_ms=(time.perf_counter() - t0) * 1000,
            ttft_ms=None if first is None else (first - t0) * 1000,
            busy_s=None,  # the GPU is shared by the batch: pricing uses measured throughput
            finish_reason=completion.finish_reason,
        )

    def close(self) -> None:
        shutdown = getattr(self.engine, "shutdown", None)
        if shutdown is not None:
            shutdown()
