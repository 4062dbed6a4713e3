"""The LLM gateway: one OpenAI-compatible door to every model, with routing and fallback,
caching, team budgets and an LLMCall event per call."""
