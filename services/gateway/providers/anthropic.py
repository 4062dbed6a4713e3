"""Anthropic's Messages API behind the OpenAI chat shape (requests and responses translated)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator

import httpx

from services.gateway.config import Deployment
from services.gateway.providers.base import UpstreamError

STOP = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length", "tool_use": "tool_calls"}
VERSION = "2023-06-01"


def to_messages_api(body: dict, model: str) -> dict:
    system = [m["content"] for m in body.get("messages", []) if m.get("role") in ("system", "developer")]
    messages = [
        {"role": "assistant" if m["role"] == "assistant" else "user", "content": m.get("content") or ""}
        for m in body.get("messages", [])
        if m.get("role") not in ("system", "developer")
    ]
    out = {
        "model": model,
        "messages": messages,
        "max_tokens": body.get("max_tokens") or body.get("max_completion_tokens") or 1024,
    }
    if system:
        out["system"] = "\n\n".join(str(s) for s in system)
    for key in ("temperature", "top_p"):
        if body.get(key) is not None:
            out[key] = body[key]
    stop = body.get("stop")
    if stop:
        out["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    return out


def to_chat_completion(msg: dict, model: str) -> dict:
    text = "".join(block.get("text", "") for block in msg.get("content", []) if block.get("type") == "text")
    usage = msg.get("usage", {})
    prompt = usage.get("input_tokens", 0) + usage.get("cache_read_input_tokens", 0)
    return {
        "id": msg.get("id", f"chatcmpl-{uuid.uuid4().hex}"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                     "finish_reason": STOP.get(msg.get("stop_reason"), "stop")}],
        "usage": {"prompt_tokens": prompt, "completion_tokens": usage.get("output_tokens", 0),
                  "total_tokens": prompt + usage.get("output_tokens", 0),
                  "prompt_tokens_details": {"cached_tokens": usage.get("cache_read_input_tokens", 0)}},
    }  # fmt: skip


class Anthropic:
    def __init__(self, deployment: Deployment, client: httpx.AsyncClient | None = None) -> None:
        self.deployment = deployment
        self.client = client or httpx.AsyncClient(
            base_url=(deployment.base_url or "https://api.anthropic.com").rstrip("/"),
            headers={"x-api-key": deployment.api_key(), "anthropic-version": VERSION},
            timeout=httpx.Timeout(deployment.timeout_s, connect=min(5.0, deployment.timeout_s)),
            limits=httpx.Limits(max_connections=512, max_keepalive_connections=128),
        )

    def _fail(self, exc: Exception) -> UpstreamError:
        if isinstance(exc, httpx.TimeoutException):
            return UpstreamError(504, f"{self.deployment.name}: timed out")
        return UpstreamError(502, f"{self.deployment.name}: {type(exc).__name__}: {exc}")

    async def complete(self, body: dict) -> dict:
        try:
            resp = await self.client.post("/v1/messages", json=to_messages_api(body, self.deployment.model))
        except httpx.TransportError as exc:
            raise self._fail(exc) from None
        if resp.status_code >= 400:
            raise UpstreamError.from_status(
                resp.status_code, f"{self.deployment.name}: HTTP {resp.status_code}: {resp.text[:300]}", resp.content
            )
        return to_chat_completion(resp.json(), body.get("model", self.deployment.model))

    async def stream(self, body: dict) -> AsyncIterator[dict]:
        payload = {**to_messages_api(body, self.deployment.model), "stream": True}
        cid, model = f"chatcmpl-{uuid.uuid4().hex}", body.get("model", self.deployment.model)

        def chunk(delta: dict, finish: str | None = None, usage: dict | None = None) -> dict:
            c = {"id": cid, "object": "chat.completion.chunk", "created": int(time.time()), "model": model,
                 "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}  # fmt: skip
            if usage:
                c["usage"] = usage
            return c

        prompt_tokens = 0
        try:
            async with self.client.stream("POST", "/v1/messages", json=payload) as resp:
                if resp.status_code >= 400:
                    text = (await resp.aread()).decode(errors="replace")
                    raise UpstreamError.from_status(
                        resp.status_code, f"{self.deployment.name}: HTTP {resp.status_code}: {text[:300]}", text
                    )
                async for line in resp.aiter_lines():
                    if not line.startswith("data:"):
                        continue
                    event = json.loads(line[5:])
                    kind = event.get("type")
                    if kind == "message_start":
                        prompt_tokens = event["message"].get("usage", {}).get("input_tokens", 0)
                        yield chunk({"role": "assistant", "content": ""})
                    elif kind == "content_block_delta" and event["delta"].get("type") == "text_delta":
                        yield chunk({"content": event["delta"]["text"]})
                    elif kind == "message_delta":
                        out = event.get("usage", {}).get("output_tokens", 0)
                        usage = {
                            "prompt_tokens": prompt_tokens,
                            "completion_tokens": out,
                            "total_tokens": prompt_tokens + out,
                        }
                        yield chunk({}, STOP.get(event["delta"].get("stop_reason"), "stop"), usage)
                    elif kind == "message_stop":
                        return
                    elif kind == "error":
                        raise UpstreamError(502, f"{self.deployment.name}: stream error: {event.get('error')}")
            raise UpstreamError(502, f"{self.deployment.name}: stream ended without message_stop")
        except httpx.TransportError as exc:
            raise self._fail(exc) from None

    async def embed(self, body: dict) -> dict:
        raise UpstreamError.cannot_serve(f"{self.deployment.name}: Anthropic has no embeddings API")

    async def aclose(self) -> None:
        await self.client.aclose()
