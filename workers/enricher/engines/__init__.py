"""Engines behind one async interface; each is imported only when a use case picks it,
so a CPU machine never needs vLLM and an offline one never needs a vendor client."""

from __future__ import annotations

import importlib

from shared.runtime.errors import UserError
from workers.enricher.engines.base import Engine, EngineRequest, EngineResult, EngineSpec

ENGINES: dict[str, tuple[str, str, str]] = {
    # name: (module, class, what to install when its library is missing)
    "llamacpp": ("workers.enricher.engines.llamacpp", "LlamaCppEngine", "pip install llama-cpp-python"),
    "vllm": ("workers.enricher.engines.vllm", "VLLMEngine", "pip install vllm  # needs a CUDA GPU"),
    "openai": ("workers.enricher.engines.openai_engine", "OpenAIEngine", "pip install openai"),
    "anthropic": ("workers.enricher.engines.anthropic_engine", "AnthropicEngine", "pip install anthropic"),
}

__all__ = ["ENGINES", "Engine", "EngineRequest", "EngineResult", "EngineSpec", "make_engine", "require"]


def require(module: str, engine: str):
    """Import an engine's library, or fail with the exact install command."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        hint = ENGINES[engine][2]
        raise UserError(f"the {engine} engine needs {module.split('.')[0]} ({exc}); install it: {hint}") from None


def make_engine(spec: EngineSpec) -> Engine:
    try:
        module, cls, _ = ENGINES[spec.engine]
    except KeyError:
        raise UserError(f"unknown engine {spec.engine!r}; known engines: {', '.join(ENGINES)}") from None
    return getattr(importlib.import_module(module), cls)(spec.model, dict(spec.params))
