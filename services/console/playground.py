"""One playground column: a streamed chat completion through the gateway (the team's key, so
its budget, caches and guardrails apply), as NDJSON lines for the page: ``{"delta": text}``
while it streams, then ``{"done": true, ...}`` with latency, time to first token, tokens and
cost (shared.pricing, the gateway's prices), or ``{"error": one line}``."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from pydantic import BaseModel, Field

from schemas import Usage
from shared.pricing import Pricing
from shared.yamlfile import read_mapping


class RunRequest(BaseModel):
    model: str = Field(min_length=1, max_length=200)
    key: str = ""
    system: str = ""
    message: str = Field(min_length=1, max_length=20_000)
    max_tokens: int = Field(default=48, ge=1, le=4096)
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)

    def body(self) -> dict:
        messages = ([{"role": "system", "content": self.system}] if self.system.strip() else []) + [
            {"role": "user", "content": self.message}
        ]
        return {"model": self.model, "messages": messages, "max_tokens": self.max_tokens,
                "temperature": self.temperature, "stream": True, "stream_options": {"include_usage": True},
                "metadata": {"use_case": "playground"}}  # fmt: skip


def price_names(gateway_config: Path) -> dict[str, str]:
    """Deployment name -> the name its calls are priced under (the gateway's own rule: pricing_model, else model)."""
    out = {}
    for d in read_mapping(gateway_config, "gateway config").get("deployments") or []:
        if isinstance(d, dict) and d.get("name"):
            out[str(d["name"])] = str(d.get("pricing_model") or d.get("model") or d["name"])
    return out


def _line(obj: dict) -> bytes:
    return (json.dumps(obj, ensure_ascii=False) + "\n").encode()


def _error_text(raw: bytes) -> str:
    try:
        err = json.loads(raw).get("error") or {}
        return str(err.get("message") or raw[:300].decode(errors="replace"))
    except (ValueError, AttributeError):
        return raw[:300].decode(errors="replace")


async def run(client: httpx.AsyncClient, gateway_url: str, pricing: Pricing, prices: dict[str, str],
              req: RunRequest) -> AsyncIterator[bytes]:  # fmt: skip
    t0 = time.perf_counter()
    ttft = None
    usage = Usage()
    model = req.model
    headers = {"Authorization": f"Bearer {req.key}"} if req.key else {}
    try:
        async with client.stream("POST", gateway_url.rstrip("/") + "/chat/completions", json=req.body(),
                                 headers=headers, timeout=httpx.Timeout(120.0, connect=5.0)) as resp:  # fmt: skip
            if resp.status_code != 200:
                yield _line({"error": f"HTTP {resp.status_code}: {_error_text(await resp.aread())}"})
                return
            cache = resp.headers.get("x-ladle-cache", "")
            deployment = resp.headers.get("x-ladle-deployment", "")
            async for raw in resp.aiter_lines():
                if not raw.startswith("data:"):
                    continue
                data = raw[5:].strip()
                if data == "[DONE]":
                    break
                chunk = json.loads(data)
                model = chunk.get("model") or model
                if chunk.get("usage"):
                    u = chunk["usage"]
                    usage = Usage(input_tokens=u.get("prompt_tokens", 0), output_tokens=u.get("completion_tokens", 0))
                for choice in chunk.get("choices") or []:
                    text = (choice.get("delta") or {}).get("content")
                    if text:
                        if ttft is None:
                            ttft = (time.perf_counter() - t0) * 1000
                        yield _line({"delta": text})
    except httpx.HTTPError as exc:
        yield _line({"error": f"the gateway at {gateway_url} did not answer: {type(exc).__name__}"})
        return
    latency = (time.perf_counter() - t0) * 1000
    cost = 0.0 if cache.endswith("hit") else pricing.cost_for(prices.get(deployment) or model, usage)
    yield _line({"done": True, "model": model, "deployment": deployment, "cache": cache, "latency_ms": round(latency, 1),
                 "ttft_ms": None if ttft is None else round(ttft, 1), "input_tokens": usage.input_tokens,
                 "output_tokens": usage.output_tokens, "cost_usd": cost})  # fmt: skip
