"""Claude through the Messages API and the official anthropic client.

Params: ``api_key`` or ``api_key_env`` (default ANTHROPIC_API_KEY), ``base_url``,
``structured``: ``tool`` (default: the schema is a forced tool's input_schema,
which every Claude model honours), ``output_format`` (native structured outputs,
``output_config.format``) or ``none``; ``concurrency``, ``timeout_s``,
``max_retries``. A leading system message becomes the ``system`` parameter.
Usage maps cache reads to cached_input_tokens (a subset of input_tokens).
"""

from __future__ import annotations

import json
import os
import time

from workers.enricher.engines import require
from workers.enricher.engines.base import CallStatus, EngineRequest, EngineResult, failed, generate_bounded

TOOL = "record_output"


class AnthropicEngine:
    name = "anthropic"

    def __init__(self, model: str, params: dict) -> None:
        self._anthropic = require("anthropic", "anthropic")
        self.model = model
        self.params = params
        self.client = self._anthropic.AsyncAnthropic(
            api_key=params.get("api_key") or os.environ.get(params.get("api_key_env", "ANTHROPIC_API_KEY")),
            base_url=params.get("base_url"),
            timeout=float(params.get("timeout_s", 60)),
            max_retries=int(params.get("max_retries", 2)),
        )
        self.structured = params.get("structured", "tool")
        self._limit = int(params.get("concurrency", 8))

    async def generate(self, requests: list[EngineRequest]) -> list[EngineResult]:
        return await generate_bounded(self.generate_one, requests, self._limit)

    def request_kwargs(self, req: EngineRequest) -> dict:
        system = "\n\n".join(m["content"] for m in req.messages if m["role"] == "system")
        kwargs: dict = {
            "model": self.model,
            "max_tokens": req.max_tokens,
            "temperature": req.temperature,
            "messages": [m for m in req.messages if m["role"] != "system"],
        }
        if system:
            kwargs["system"] = system
        if req.json_schema is not None and self.structured == "tool":
            kwargs["tools"] = [{"name": TOOL, "description": "Record the answer.", "input_schema": req.json_schema}]
            kwargs["tool_choice"] = {"type": "tool", "name": TOOL}
        elif req.json_schema is not None and self.structured == "output_format":
            kwargs["output_config"] = {"format": {"type": "json_schema", "schema": req.json_schema}}
        if "stop" in req.params:
            kwargs["stop_sequences"] = list(req.params["stop"])
        return kwargs

    async def generate_one(self, req: EngineRequest) -> EngineResult:
        t0 = time.perf_counter()
        first = None
        try:
            async with self.client.messages.stream(**self.request_kwargs(req)) as stream:
                async for event in stream:
                    if first is None and event.type in ("content_block_delta", "text", "input_json"):
                        first = time.perf_counter()
                message = await stream.get_final_message()
        except self._anthropic.APIError as exc:
            return failed(req, exc, self._status(exc), (time.perf_counter() - t0) * 1000)
        text = ""
        for block in message.content:
            if block.type == "tool_use":
                text = json.dumps(block.input)
                break
            if block.type == "text":
                text += block.text
        u = message.usage
        cached = u.cache_read_input_tokens or 0
        return EngineResult(
            id=req.id,
            text=text,
            input_tokens=u.input_tokens + cached + (u.cache_creation_input_tokens or 0),
            output_tokens=u.output_tokens,
            cached_input_tokens=cached,
            latency_ms=(time.perf_counter() - t0) * 1000,
            ttft_ms=None if first is None else (first - t0) * 1000,
            finish_reason=message.stop_reason,
        )

    def _status(self, exc: BaseException) -> CallStatus:
        a = self._anthropic
        if isinstance(exc, a.RateLimitError):
            return "rate_limited"
        if isinstance(exc, a.APITimeoutError | a.APIConnectionError | a.InternalServerError):
            return "timeout"  # includes 529 overloaded: worth waiting for
        return "error"

    def close(self) -> None:
        pass
