"""OpenAI and every OpenAI-compatible server (vLLM, llama.cpp's server, another gateway)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx

from services.gateway.config import Deployment
from services.gateway.providers.base import UpstreamError

LIMITS = httpx.Limits(max_connections=512, max_keepalive_connections=128)


class OpenAICompatible:
    def __init__(self, deployment: Deployment, client: httpx.AsyncClient | None = None) -> None:
        self.deployment = deployment
        headers = {"Authorization": f"Bearer {deployment.api_key()}"} if deployment.api_key() else {}
        self.client = client or httpx.AsyncClient(
            base_url=(deployment.base_url or "https://api.openai.com/v1").rstrip("/"),
            headers=headers,
            timeout=httpx.Timeout(deployment.timeout_s, connect=min(5.0, deployment.timeout_s)),
            limits=LIMITS,
        )

    def _body(self, body: dict) -> dict:
        return {**body, "model": self.deployment.model}

    async def _post(self, path: str, body: dict) -> dict:
        try:
            resp = await self.client.post(path, json=body)
        except httpx.TimeoutException as exc:
            raise UpstreamError(504, f"{self.deployment.name}: timed out ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            raise UpstreamError(502, f"{self.deployment.name}: {type(exc).__name__}: {exc}") from None
        if resp.status_code >= 400:
            raise UpstreamError.from_status(
                resp.status_code, f"{self.deployment.name}: HTTP {resp.status_code}: {resp.text[:300]}"
            )
        return resp.json()

    async def complete(self, body: dict) -> dict:
        return await self._post("/chat/completions", self._body({**body, "stream": False}))

    async def embed(self, body: dict) -> dict:
        return await self._post("/embeddings", self._body(body))

    async def stream(self, body: dict) -> AsyncIterator[dict]:
        payload = self._body({**body, "stream": True})
        try:
            async with self.client.stream("POST", "/chat/completions", json=payload) as resp:
                if resp.status_code >= 400:
                    text = (await resp.aread()).decode(errors="replace")
                    raise UpstreamError.from_status(
                        resp.status_code, f"{self.deployment.name}: HTTP {resp.status_code}: {text[:300]}"
                    )
                async for line in resp.aiter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        return
                    chunk = json.loads(data)
                    if "error" in chunk:
                        raise UpstreamError(502, f"{self.deployment.name}: stream error: {chunk['error']}")
                    yield chunk
            raise UpstreamError(502, f"{self.deployment.name}: stream ended without [DONE]")
        except httpx.TimeoutException:
            raise UpstreamError(504, f"{self.deployment.name}: stream timed out") from None
        except httpx.TransportError as exc:
            raise UpstreamError(502, f"{self.deployment.name}: {type(exc).__name__}: {exc}") from None

    async def aclose(self) -> None:
        await self.client.aclose()
