"""Who is calling (hashed API keys), how fast they may call, and what they may spend.

Spend is enforced under concurrency by reservation: before a call the worst
case (prompt tokens estimated from its length, the full max_tokens answer) is
reserved against the budget; after it the reservation is replaced by the real
cost. A call that does not fit is refused, so a team can overspend by at most
what its in-flight calls cost beyond their estimates. Spent money is also written to
a SpendLedger (spend.py) when one is given, so a restart starts from what was spent.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from schemas import Usage
from services.gateway.config import GatewayConfig, Team, hash_key
from services.gateway.spend import SpendLedger
from shared.pricing import Pricing

ANONYMOUS = Team(name="anonymous", key_sha256=[])
DEFAULT_MAX_TOKENS = 512
TEMPLATE_PER_MESSAGE = 16  # role markers and separators around each message
TEMPLATE_BASE = 64  # a default system prompt some chat templates add


@dataclass
class Ledger:
    spent_usd: float = 0.0
    reserved_usd: float = 0.0
    window: list[float] = field(default_factory=list)  # request times in the last minute


class Refused(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code = status, code


class Teams:
    def __init__(self, config: GatewayConfig, pricing: Pricing, spend: SpendLedger | None = None) -> None:
        self.by_hash = {h: t for t in config.teams for h in t.key_sha256}
        self.open = not config.teams  # no teams configured: no keys needed
        self.pricing = pricing
        self.spend = spend
        self.ledgers: dict[str, Ledger] = {
            team: Ledger(spent_usd=usd) for team, usd in (spend.totals if spend else {}).items()
        }

    def authenticate(self, authorization: str | None) -> Team:
        key = (authorization or "").removeprefix("Bearer ").strip()
        team = self.by_hash.get(hash_key(key)) if key else None
        if team is not None:
            return team
        if self.open:
            return ANONYMOUS
        raise Refused(401, "invalid_api_key", "missing or unknown API key: send Authorization: Bearer <key>")

    def allow(self, team: Team, model: str) -> None:
        """Refused (403) when the team's `models` list does not name this model."""
        if team.models is not None and model not in team.models:
            raise Refused(403, "model_not_allowed", f"team {team.name} may not use model {model!r}")

    def visible(self, team: Team, models: list[str]) -> list[str]:
        return models if team.models is None else [m for m in models if m in team.models]

    def estimate(self, model: str, body: dict) -> float:
        """An upper bound of the call's cost: a BPE token is at least one byte, plus room for the
        chat template around each message; the answer is as long as max_tokens allows."""
        messages = body.get("messages", [])
        prompt = sum(len(str(m.get("content") or "").encode()) + TEMPLATE_PER_MESSAGE for m in messages) + TEMPLATE_BASE
        out = body.get("max_tokens") or body.get("max_completion_tokens") or DEFAULT_MAX_TOKENS
        return self.pricing.cost_for(model, Usage(input_tokens=prompt, output_tokens=out)) or 0.0

    def admit(self, team: Team, estimate: float) -> None:
        """Rate limit and budget check, then reserve; raises Refused."""
        ledger = self.ledgers.setdefault(team.name, Ledger())
        if team.requests_per_minute:
            now = time.monotonic()
            ledger.window = [t for t in ledger.window if now - t < 60.0]
            if len(ledger.window) >= team.requests_per_minute:
                raise Refused(
                    429, "rate_limited", f"team {team.name} is over {team.requests_per_minute} requests/minute"
                )
            ledger.window.append(now)
        if team.budget_usd is not None and ledger.spent_usd + ledger.reserved_usd + estimate > team.budget_usd:
            raise Refused(
                429, "budget_exceeded",
                f"team {team.name} would exceed its budget of ${team.budget_usd:.4f} (spent ${ledger.spent_usd:.4f})",
            )  # fmt: skip
        ledger.reserved_usd += estimate

    def settle(self, team: Team, estimate: float, actual: float) -> None:
        ledger = self.ledgers.setdefault(team.name, Ledger())
        ledger.reserved_usd = max(0.0, ledger.reserved_usd - estimate)
        ledger.spent_usd += actual
        if self.spend is not None:
            self.spend.add(team.name, actual)
