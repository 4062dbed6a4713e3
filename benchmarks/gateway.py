"""The gateway's added latency (through it minus straight to the upstream) at fixed request
rates, side by side with LiteLLM's proxy pointed at the same fast local upstream.

Open-loop load: requests start on a fixed schedule whatever the answers do, so
a slow proxy shows up as latency, not as a lower rate. Overhead at a percentile
= that percentile through the proxy minus the same percentile direct.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
from rich.console import Console

from benchmarks.common import figure
from services.gateway.config import hash_key
from shared.kafka.broker import free_port
from shared.runtime.errors import UserError
from shared.settings import REPO_ROOT

LITELLM = REPO_ROOT / ".cache" / "litellm-venv" / "bin" / "litellm"
KEY = "sk-ladle-bench-0123456789abcdef"  # both proxies check the same bearer key
AUTH = {"Authorization": f"Bearer {KEY}"}
BODY = {"model": "bench", "messages": [{"role": "user", "content": "Name one Italian pasta dish."}], "max_tokens": 8}


def _wait(url: str, timeout: float = 120, headers: dict | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2, headers=headers).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not come up")


async def _load(url: str, rate: float, seconds: float, headers: dict) -> tuple[list[float], int]:
    """Latencies (ms) of the rate*seconds requests started on a fixed schedule that succeeded,
    and how many failed (an HTTP error or a dropped connection: LiteLLM resets some at 500/s)."""
    import aiohttp

    n = int(rate * seconds)
    out: list[float] = []
    failed = 0
    conn = aiohttp.TCPConnector(limit=0, keepalive_timeout=60)
    async with aiohttp.ClientSession(connector=conn, headers=headers) as session:

        async def one() -> None:
            nonlocal failed
            t = time.perf_counter()
            try:
                async with session.post(url, json=BODY) as r:
                    await r.read()
                    ok = r.status == 200
            except (aiohttp.ClientError, OSError):
                ok = False
            if ok:
                out.append((time.perf_counter() - t) * 1000)
            else:
                failed += 1

        for _ in range(20):  # warm the connection pool and the proxies
            await one()
        out.clear()
        failed = 0
        start = time.perf_counter()
        tasks = []
        for i in range(n):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one()))
        await asyncio.gather(*tasks)
    return out, failed


def _pct(xs: list[float], p: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100 * len(xs)))]


def run(*, rates: list[int], seconds: float, console: Console) -> Iterator[dict]:
    if not LITELLM.exists():  # a missing baseline is the user's to fix: one line, no traceback
        raise UserError("the gateway benchmark's baseline, LiteLLM's proxy, is not installed; run `make bench-deps`")
    procs = []
    tmp = Path(tempfile.mkdtemp(prefix="ladle-bench-gw-"))
    try:
        up = free_port()
        procs.append(subprocess.Popen([sys.executable, "-m", "benchmarks.upstream", str(up)]))
        upstream = f"http://127.0.0.1:{up}/v1"
        _wait(f"{upstream}/models")

        gw_port = free_port()
        (tmp / "gateway.yaml").write_text(
            "deployments:\n"
            f"  - {{name: bench, provider: openai_compatible, model: bench, base_url: '{upstream}', max_retries: 0}}\n"
            "aliases: {}\n"
            "exact_cache_entries: 0\n"
            f"teams: [{{name: bench, key_sha256: ['{hash_key(KEY)}']}}]\n"
        )
        env = dict(os.environ, LADLE_GATEWAY_PORT=str(gw_port), LADLE_GATEWAY_CONFIG_FILE=str(tmp / "gateway.yaml"),
                   LADLE_GATEWAY_EMIT_EVENTS="false", LADLE_LOG_LEVEL="WARNING",
                   LADLE_DATA_DIR=str(tmp / "data"))  # its own spend ledger: a running gateway holds the default one  # fmt: skip
        procs.append(subprocess.Popen([sys.executable, "-m", "ladle.cli", "gateway", "serve"], env=env))
        gateway = f"http://127.0.0.1:{gw_port}/v1"
        _wait(f"{gateway}/models")

        ll_port = free_port()
        (tmp / "litellm.yaml").write_text(
            "model_list:\n  - model_name: bench\n    litellm_params:\n"
            f"      model: openai/bench\n      api_base: {upstream}\n      api_key: none\n"
            "litellm_settings:\n  drop_params: true\n  telemetry: false\n"
        )
        procs.append(subprocess.Popen([str(LITELLM), "--config", str(tmp / "litellm.yaml"), "--port", str(ll_port),
                                       "--host", "127.0.0.1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                      env=dict(os.environ, LITELLM_LOG="ERROR", LITELLM_MASTER_KEY=KEY)))  # fmt: skip
        litellm = f"http://127.0.0.1:{ll_port}/v1"
        _wait(f"{litellm}/models", timeout=180, headers=AUTH)

        for rate in rates:
            lat, errors = {}, {}
            for name, base in (("direct", upstream), ("gateway", gateway), ("litellm", litellm), ("direct2", upstream)):
                lat[name], errors[name] = asyncio.run(_load(f"{base}/chat/completions", rate, seconds, AUTH))
                console.print(f"{rate} req/s {name:8s} p50 {_pct(lat[name], 50):7.2f} ms  "
                              f"p99 {_pct(lat[name], 99):7.2f} ms  failed {errors[name]}")  # fmt: skip
            direct = lat["direct"] + lat["direct2"]
            for p in (50, 99):
                base = _pct(direct, p)
                ours = max(0.0, _pct(lat["gateway"], p) - base)
                theirs = max(0.0, _pct(lat["litellm"], p) - base)
                yield figure("gateway", f"overhead_p{p}_ms_at_{rate}rps", ours, theirs, "ms", higher_is_better=False,
                             direct_ms=round(base, 3), requests=int(rate * seconds), baseline_is="litellm-proxy",
                             failed=errors["gateway"], baseline_failed=errors["litellm"])  # fmt: skip
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
