"""Guardrails: validate, redact and route every LLM output (and the gateway's traffic).

The library is importable without faust or Kafka; the gateway uses it like this::

    from shared.guardrails import Engine, load_policies

    engine = Engine(load_policies())                     # deploy/guardrails/policies.yaml
    decision = engine.decide([Subject.of_text(prompt, "gateway_request", use_case="chat")], policy="gateway")[0]
    # decision.verdict.action: accept | redact | review | reject;
    # decision.subject.inputs["text"]: the prompt with PII redacted

Layout: checks/ (one module per check, the Check protocol in checks/base.py),
policy.py (the YAML's pydantic models and policy versions), engine.py (a policy over
subjects -> verdicts, routes and edited subjects). The worker (workers/guardrails:
processor.py turns raw messages into messages to publish, app.py is the faust app) and
the gateway stand on it; `ladle guardrails eval` (ladle/eval/guardrails.py) scores it.
"""

from shared.guardrails.engine import Decision, Engine
from shared.guardrails.policy import PolicySet, load_policies
from shared.guardrails.subject import Subject

__all__ = ["Decision", "Engine", "PolicySet", "Subject", "load_policies"]
