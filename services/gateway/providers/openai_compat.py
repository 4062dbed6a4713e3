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

    def _body(self, body: dict) -> dict:
        body = {**body, "model": self.deployment.model}
        if self.deployment.dialect == "llama_cpp":
            body = llama_cpp(body, self.deployment.name)
        return body

    async def _post(self, path: str, body: dict) -> dict:
        payload = orjson.dumps(self._body(body))
        try:
            async with self.session().post(self.base + path, data=payload) as resp:
                raw = await resp.read()
                status = resp.status
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise self._fail(exc) from None
        if status >= 400:
            raise UpstreamError.from_status(
                status, f"{self.deployment.name}: HTTP {status}: {raw[:300].decode(errors='replace')}", raw
            )
        return orjson.loads(raw)

    async def complete(self, body: dict) -> dict:
        return await self._post("/chat/completions", {**body, "stream": False})

    async def embed(self, body: dict) -> dict:
        return await self._post("/embeddings", body)

    async def stream(self, body: dict) -> AsyncIterator[dict]:
        # usage always asked for (OpenAI, vLLM send it; llama.cpp's server ignores it): the app
        # counts it when none comes, and passes it on only to a client that asked
        payload = orjson.dumps({**self._body(body), "stream": True, "stream_options": {"include_usage": True}})
        name = self.deployment.name
        sent = 0
        # llama-cpp-python's server leaves a connection unusable after a stream it refused
        headers = {"Connection": "close"} if self.deployment.dialect == "llama_cpp" else None
        try:
            async with self.session().post(self.base + "/chat/completions", data=payload, headers=headers) as resp:
                if resp.status >= 400:
                    raw = await resp.read()
                    text = raw[:300].decode(errors="replace")
                    raise UpstreamError.from_status(resp.status, f"{name}: HTTP {resp.status}: {text}", raw)
                async for line in resp.content:
                    if not line.startswith(b"data:"):
                        continue
                    data = line[5:].strip()
                    if data == b"[DONE]":
                        return
                    chunk = orjson.loads(data)
                    if "error" in chunk:
                        raise UpstreamError(502, f"{name}: stream error: {chunk['error']}")
                    sent += 1
                    yield chunk
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise self._fail(exc) from None
        if sent == 0 and self.deployment.dialect == "llama_cpp":
            # llama-cpp-python's server answers a request it refuses (a prompt past its context)
            # with an empty 200 stream; asked without streaming it says why, with its real status
            # (a 400 is the request's fault, not the deployment's), or it answers after all.
            whole = await self.complete(body)
            yield whole_as_chunk(whole)
            return
        raise UpstreamError(502, f"{name}: stream ended without [DONE]")

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


NO_PARAMETERS = {"type": "object", "properties": {}}


def llama_cpp(body: dict, name: str = "llama.cpp") -> dict:
    """A chat request as llama-cpp-python's server takes it. It answers 500 to anything its own
    request model or chat template refuses (which would count against the deployment's
    breaker), so: a JSON schema rides on json_object as `schema`; `developer` messages are
    `system` (the role the OpenAI docs say it replaces); text parts are joined into a string;
    a null content is an empty one; a function without `parameters` gets an empty object
    schema. What it cannot read at all (image, audio and file parts with a text model, custom
    tools) is UpstreamError.cannot_serve: the next deployment may."""
    fmt = body.get("response_format")
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        schema = (fmt.get("json_schema") or {}).get("schema")
        body = {**body, "response_format": {"type": "json_object", **({"schema": schema} if schema else {})}}
    for key, spec in (("tools", "function"), ("functions", None)):
        if body.get(key):
            body = {**body, key: [_with_parameters(t, spec, name) for t in body[key]]}
    messages = body.get("messages") or []
    if all(m.get("role") in ("user", "system", "assistant") and isinstance(m.get("content"), str) for m in messages):
        return body  # the common request: nothing to change
    out = []
    for m in messages:
        role, content = m.get("role"), m.get("content")
        if isinstance(content, list):
            if any(p.get("type") not in ("text", "refusal") for p in content):
                raise UpstreamError.cannot_serve(f"{name}: llama.cpp's server (a text model) reads text parts only")
            content = "".join(p.get("text") or p.get("refusal") or "" for p in content)
        if any(c.get("type") != "function" for c in m.get("tool_calls") or []):
            raise UpstreamError.cannot_serve(f"{name}: llama.cpp's server knows function tool calls only")
        out.append({**m, "role": "system" if role == "developer" else role, "content": content or ""})
    return {**body, "messages": out}


def _with_parameters(tool: dict, spec: str | None, name: str) -> dict:
    if spec is not None and tool.get("type") != spec:
        raise UpstreamError.cannot_serve(f"{name}: llama.cpp's server knows function tools only")
    fn = tool.get(spec) if spec else tool
    if fn.get("parameters") is not None:
        return tool
    fn = {**fn, "parameters": NO_PARAMETERS}
    return {**tool, spec: fn} if spec else fn


def whole_as_chunk(resp: dict) -> dict:
    """A whole chat completion as the one chunk a stream of it would be (usage included)."""
    choices = [{"index": c.get("index", i), "finish_reason": c.get("finish_reason"),
                "delta": {"role": "assistant", **{k: v for k, v in (c.get("message") or {}).items() if k != "role"}}}
               for i, c in enumerate(resp.get("choices") or [])]  # fmt: skip
    return {"id": resp.get("id"), "object": "chat.completion.chunk", "created": resp.get("created"),
            "model": resp.get("model"), "choices": choices, "usage": resp.get("usage")}  # fmt: skip
