"""The guardrails worker: a faust app over enrichment.results that runs the guardrails library
(shared/guardrails) on every result and routes it to accepted, review or rejected."""
