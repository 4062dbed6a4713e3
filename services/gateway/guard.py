"""Guardrails on a route: the guardrails library (shared/guardrails) on an alias's requests
and answers, as gateway.yaml's `guardrails.aliases` says.

A request's subject is its user messages (each one a named input text), an answer's is
its choices' contents (outputs), so one verdict covers a whole request or answer and
redaction edits each text in place. `reject` blocks, `review` blocks only with
`on_review: block` (by default it passes, and the verdict on guardrail.verdicts is what
a person reviews); `redact` passes the redacted texts on. Checks (spaCy, Presidio,
profanity models) run on one worker thread: off the event loop, and never two at once,
since the models are not known to be thread-safe.
"""

from __future__ import annotations

import asyncio
import copy
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from schemas import GuardrailVerdict
from services.gateway.config import GuardrailsConfig, RouteGuardrails
from shared.guardrails import Engine, Subject, load_policies
from shared.runtime.errors import UserError


@dataclass
class Checked:
    verdict: GuardrailVerdict
    body: dict  # the request or the answer, as the checks left it
    blocked: bool

    def reason(self) -> str:
        failed = [f"{c.check} ({c.detail})" if c.detail else c.check for c in self.verdict.checks if not c.passed]
        return f"policy {self.verdict.policy} said {self.verdict.action}: {', '.join(failed) or 'no detail'}"


def _texts(messages: list, role: str, prefix: str = "messages") -> dict[str, str]:
    """Named texts of the messages with this role: `messages[i]` for a string content,
    `messages[i].content[j]` for a text part (names show up in verdict details)."""
    out = {}
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") != role:
            continue
        content = m.get("content")
        if isinstance(content, str):
            out[f"{prefix}[{i}]"] = content
        elif isinstance(content, list):
            for j, part in enumerate(content):
                if isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str):
                    out[f"{prefix}[{i}].content[{j}]"] = part["text"]
    return out


_NAME = re.compile(r"\w+\[(\d+)\](?:\.content\[(\d+)\])?")


def _put_back(messages: list, texts: dict[str, str]) -> None:
    for name, text in texts.items():
        i, j = _NAME.fullmatch(name).groups()
        if j is not None:
            messages[int(i)]["content"][int(j)]["text"] = text
        else:
            messages[int(i)]["content"] = text


class RouteGuards:
    def __init__(self, config: GuardrailsConfig, engine: Engine | None = None) -> None:
        policies = load_policies(config.policy_file)
        known = set(policies.file.policies)
        for alias, route in config.aliases.items():
            for side in ("input", "output"):
                name = getattr(route, side)
                if name is not None and name not in known:
                    raise UserError(
                        f"guardrails.aliases.{alias}.{side} names policy {name!r}, which {policies.source} does not "
                        f"define; known: {', '.join(sorted(known))}"
                    )
        self.routes = config.aliases
        self.engine = engine or Engine(policies, threads=1)
        for route in self.routes.values():  # load the models now, not on the first request
            for name in (route.input, route.output):
                if name:
                    self.engine.checks(name)
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="ladle-guardrails")

    def route(self, model: str) -> RouteGuardrails | None:
        return self.routes.get(model)

    async def _decide(self, subject: Subject, policy: str) -> tuple[GuardrailVerdict, Subject]:
        loop = asyncio.get_running_loop()
        decision = (await loop.run_in_executor(self._pool, self.engine.decide, [subject], policy))[0]
        return decision.verdict, decision.subject

    def _blocked(self, verdict: GuardrailVerdict, route: RouteGuardrails) -> bool:
        return verdict.action == "reject" or (verdict.action == "review" and route.on_review == "block")

    async def check_request(
        self, route: RouteGuardrails, body: dict, call_id: str, team: str, use_case: str
    ) -> Checked:
        messages = copy.deepcopy(body.get("messages") or [])
        subject = Subject(
            id=call_id, kind="gateway_request", inputs=_texts(messages, "user"), use_case=use_case, team=team
        )
        verdict, subject = await self._decide(subject, route.input)
        _put_back(messages, subject.inputs)
        verdict.trace_id = call_id
        return Checked(verdict, {**body, "messages": messages}, self._blocked(verdict, route))

    async def check_answer(self, route: RouteGuardrails, resp: dict, call_id: str, team: str, use_case: str) -> Checked:
        choices = copy.deepcopy(resp.get("choices") or [])
        messages = [c.get("message") or {} for c in choices]
        subject = Subject(id=call_id, kind="gateway_response", outputs=_texts(messages, "assistant", "choices"),
                          use_case=use_case, team=team)  # fmt: skip
        verdict, subject = await self._decide(subject, route.output)
        _put_back(messages, subject.outputs)
        verdict.trace_id = call_id
        return Checked(verdict, {**resp, "choices": choices}, self._blocked(verdict, route))

    def close(self) -> None:
        self._pool.shutdown(wait=False)
