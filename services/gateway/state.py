"""The Gateway: what every route shares (config, router, teams, caches, guardrails, prompts,
the event producer). Routes import it; it imports no route."""

from __future__ import annotations

from pathlib import Path

from schemas import GuardrailVerdict, LLMCall, PromptRef
from services.gateway.cache import ExactCache
from services.gateway.config import GatewayConfig
from services.gateway.router import Router
from services.gateway.spend import SpendLedger
from services.gateway.teams import Teams
from shared.pricing import Pricing
from shared.prompts.model import PromptError, render, resolve
from shared.runtime.errors import UserError


class Gateway:
    def __init__(
        self, config: GatewayConfig, router: Router, pricing: Pricing, events=None, prompts=None,
        data_dir: Path | None = None,
    ) -> None:  # fmt: skip
        """``data_dir`` (<LADLE_DATA_DIR>/gateway) holds the spend ledger and the semantic cache;
        without one, spend lives in memory only and a configured semantic cache is an error."""
        self.config, self.router, self.pricing, self.events = config, router, pricing, events
        self.prompts = prompts  # a PromptRegistry, or None when the prompts topic is not reachable
        self.teams = Teams(config, pricing, SpendLedger(data_dir / "spend.jsonl") if data_dir else None)
        self.cache = ExactCache(config.exact_cache_ttl_s, config.exact_cache_entries)
        self.semantic = self.guards = None
        if config.semantic_cache is not None:  # imported only when configured: the plain path stays light
            from services.gateway.encoder import shared_encoder
            from services.gateway.semantic import SemanticCache
            from shared.encoder import slug

            if data_dir is None:
                raise UserError("semantic_cache needs the gateway's data folder (LADLE_DATA_DIR)")
            sc = config.semantic_cache
            self.semantic = SemanticCache(sc, data_dir / "semantic" / slug(sc.model), shared_encoder(sc.model))
        if config.guardrails is not None:
            from services.gateway.guard import RouteGuards

            self.guards = RouteGuards(config.guardrails)

    def close(self) -> None:
        for part in (self.teams.spend, self.semantic, self.guards):
            if part is not None:
                part.close()

    def emit(self, call: LLMCall) -> None:
        if self.events is not None:
            self.events.emit(call)

    def verdict(self, verdict: GuardrailVerdict) -> None:
        if self.events is not None:
            self.events.verdict(verdict)

    def price_model(self, deployment: str | None, fallback: str) -> str:
        if deployment and deployment in self.router.providers:
            d = self.router.providers[deployment].deployment
            return d.pricing_model or d.model
        return fallback

    def provider(self, deployment: str | None) -> str:
        if deployment and deployment in self.router.providers:
            return self.router.providers[deployment].deployment.provider
        return "gateway"

    def expand_prompt(self, body: dict) -> tuple[dict, PromptRef]:
        """A request naming {"prompt": {"name", "label"?, "variables"}} gets the rendered messages,
        and the reference of the version it got. Raises PromptError (PromptNotFound: no such name)."""
        spec = body["prompt"]
        if self.prompts is None:
            raise PromptError("this gateway has no prompt registry (the prompts topic is unreachable)")
        if (
            not isinstance(spec, dict)
            or not isinstance(spec.get("name"), str)
            or not isinstance(spec.get("label"), str | None)
            or not isinstance(spec.get("variables"), dict | None)
        ):
            raise PromptError('`prompt` must be {"name": "...", "label": "...", "variables": {...}}')
        state = self.prompts.get(spec["name"])
        label, version = resolve(state, spec.get("label"), body.get("user"))
        text = render(version, spec.get("variables") or {})
        out = {**version.parameters, **{k: v for k, v in body.items() if k != "prompt"}}
        before = body.get("messages", [])  # anything but a list is left for the schema check to refuse
        out["messages"] = [*before, {"role": "user", "content": text}] if isinstance(before, list) else before
        out.setdefault("model", version.model)
        return out, PromptRef(name=state.name, version=version.version, label=label)
