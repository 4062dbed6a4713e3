"""OpenAI and every OpenAI-compatible server (vLLM, llama.cpp's server, another gateway).

aiohttp, not httpx: on this path the client's own cost is the gateway's overhead,
and aiohttp's per-request cost is a fraction of httpx's.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import orjson

from services.gateway.config import Deployment
from services.gateway.providers.base import UpstreamError


class OpenAICompatible:
    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment
        self.base = (deployment.base_url or "https://api.openai.com/v1").rstrip("/")
        key = deployment.api_key()
        self.headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {key}"} if key else {})}
        self.timeout = aiohttp.ClientTimeout(total=deployment.timeout_s, connect=min(5.0, deployment.timeout_s))
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        # Made inside the running loop, on first use.
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                headers=self.headers, timeout=self.timeout,
                connector=aiohttp.TCPConnector(limit=512, keepalive_timeout=30),
            )  # fmt: skip
        return self._session

    def _fail(self, exc: BaseException) -> UpstreamError:
        name = self.deployment.name
        if isinstance(exc, asyncio.TimeoutError):
            return UpstreamError(504, f"{name}: timed out")
        return UpstreamError(502, f"{name}: {type(exc).__name__}: {exc}")

    async def _post(self, path: str, body: dict) -> dict:
        payload = orjson.dumps({**body, "model": self.deployment.model})
        try:
            async with self.session().post(self.base + path, data=payload) as resp:
                raw = await resp.read()
                status = resp.status
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise self._fail(exc) from None
        if status >= 400:
            raise UpstreamError.from_status(
                status, f"{self.deployment.name}: HTTP {status}: {raw[:300].decode(errors='replace')}"
            )
        return orjson.loads(raw)

    async def complete(self, body: dict) -> dict:
        return await self._post("/chat/completions", {**body, "stream": False})

    async def embed(self, body: dict) -> dict:
        return await self._post("/embeddings", body)

    async def stream(self, body: dict) -> AsyncIterator[dict]:
        payload = orjson.dumps({**body, "model": self.deployment.model, "stream": True})
        name = self.deployment.name
        try:
            async with self.session().post(self.base + "/chat/completions", data=payload) as resp:
                if resp.status >= 400:
                    text = (await resp.read())[:300].decode(errors="replace")
                    raise UpstreamError.from_status(resp.status, f"{name}: HTTP {resp.status}: {text}")
                async for line in resp.content:
                    if not line.startswith(b"data:"):
                        continue
                    data = line[5:].strip()
                    if data == b"[DONE]":
                        return
                    chunk = orjson.loads(data)
                    if "error" in chunk:
                        raise UpstreamError(502, f"{name}: stream error: {chunk['error']}")
                    yield chunk
            raise UpstreamError(502, f"{name}: stream ended without [DONE]")
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise self._fail(exc) from None

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
