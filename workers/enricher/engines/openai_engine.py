"""Any OpenAI-compatible endpoint (OpenAI, a vLLM server, llama.cpp's server, Ladle's
gateway) through the official openai client.

Params: ``base_url`` (default: the client's, i.e. OpenAI), ``api_key`` or
``api_key_env`` (default OPENAI_API_KEY; servers that need none get "none"),
``response_format``: ``json_schema`` (OpenAI, vLLM), ``json_object_schema``
(llama.cpp's server: ``{"type": "json_object", "schema": ...}``), ``json_object``
or ``none``; ``strict`` (json_schema only), ``stream`` (default true: measures
time to first token), ``concurrency`` (requests in flight per engine),
``timeout_s``, ``max_retries`` (the client's own retries with backoff),
``extra_body`` (sent as is, e.g. a gateway's team header fields).
"""

from __future__ import annotations

import os
import time

from workers.enricher.engines import require
from workers.enricher.engines.base import CallStatus, EngineRequest, EngineResult, failed, generate_bounded


class OpenAIEngine:
    name = "openai"

    def __init__(self, model: str, params: dict) -> None:
        self._openai = require("openai", "openai")
        self.model = model
        self.params = params
        key = params.get("api_key") or os.environ.get(params.get("api_key_env", "OPENAI_API_KEY")) or "none"
        self.client = self._openai.AsyncOpenAI(
            base_url=params.get("base_url"),
            api_key=key,
            timeout=float(params.get("timeout_s", 60)),
            max_retries=int(params.get("max_retries", 2)),
        )
        self.stream = bool(params.get("stream", True))
        self._limit = int(params.get("concurrency", 8))

    async def generate(self, requests: list[EngineRequest]) -> list[EngineResult]:
        return await generate_bounded(self.generate_one, requests, self._limit)

    def response_format(self, schema: dict | None) -> dict | None:
        mode = self.params.get("response_format", "json_schema")
        if schema is None or mode == "none":
            return None
        if mode == "json_object":
            return {"type": "json_object"}
        if mode == "json_object_schema":
            return {"type": "json_object", "schema": schema}
        strict = bool(self.params.get("strict", True))
        return {"type": "json_schema", "json_schema": {"name": "output", "schema": schema, "strict": strict}}

    async def generate_one(self, req: EngineRequest) -> EngineResult:
        kwargs = {
            "model": self.model,
            "messages": req.messages,
            "max_tokens": req.max_tokens,
            "temperature": req.temperature,
        }
        fmt = self.response_format(req.json_schema)
        if fmt is not None:
            kwargs["response_format"] = fmt
        for k in ("seed", "top_p", "stop"):
            if k in req.params:
                kwargs[k] = req.params[k]
        if self.params.get("extra_body"):
            kwargs["extra_body"] = self.params["extra_body"]
        t0 = time.perf_counter()
        try:
            if self.stream:
                return await self._streamed(req, kwargs, t0)
            resp = await self.client.chat.completions.create(**kwargs)
        except self._openai.APIError as exc:
            return failed(req, exc, self._status(exc), (time.perf_counter() - t0) * 1000)
        choice = resp.choices[0]
        return self._result(req, choice.message.content or "", resp.usage, choice.finish_reason, t0, None, 0)

    async def _streamed(self, req: EngineRequest, kwargs: dict, t0: float) -> EngineResult:
        stream = await self.client.chat.completions.create(
            **kwargs, stream=True, stream_options={"include_usage": True}
        )
        first, pieces, usage, finish, chunks = None, [], None, None, 0
        async for chunk in stream:
            usage = chunk.usage or usage
            if not chunk.choices:
                continue
            choice = chunk.choices[0]
            if choice.delta and choice.delta.content:
                if first is None:
                    first = time.perf_counter()
                pieces.append(choice.delta.content)
                chunks += 1
            finish = choice.finish_reason or finish
        return self._result(req, "".join(pieces), usage, finish, t0, first, chunks)

    def _result(self, req, text, usage, finish, t0, first, chunks) -> EngineResult:
        if usage is not None:
            details = getattr(usage, "prompt_tokens_details", None)
            cached = (getattr(details, "cached_tokens", 0) or 0) if details else 0
            tokens = (usage.prompt_tokens or 0, usage.completion_tokens or 0, cached)
        else:
            # Servers that ignore stream_options (llama.cpp's) send one chunk per token.
            tokens = (0, chunks, 0)
        return EngineResult(
            id=req.id,
            text=text,
            input_tokens=tokens[0],
            output_tokens=tokens[1],
            cached_input_tokens=tokens[2],
            latency_ms=(time.perf_counter() - t0) * 1000,
            ttft_ms=None if first is None else (first - t0) * 1000,
            finish_reason=finish,
        )

    def _status(self, exc: BaseException) -> CallStatus:
        if isinstance(exc, self._openai.RateLimitError):
            return "rate_limited"
        if isinstance(exc, self._openai.APITimeoutError | self._openai.APIConnectionError):
            return "timeout"
        if isinstance(exc, self._openai.InternalServerError):
            return "timeout"  # 5xx: the endpoint is unwell, worth waiting for
        return "error"

    def close(self) -> None:
        pass
