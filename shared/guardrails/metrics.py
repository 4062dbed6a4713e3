"""Prometheus metrics of guardrails (the worker's port, or the gateway's)."""

from __future__ import annotations

from functools import cache

from prometheus_client import Counter, Histogram

CHECKS = Counter("ladle_guardrail_checks_total", "Check outcomes", ["policy", "check", "passed"])
CHECK_SECONDS = Histogram(
    "ladle_guardrail_check_seconds",
    "Time one check spent on one subject (batched model calls: shared evenly)",
    ["check"],
    buckets=(0.00005, 0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5),
)
VERDICTS = Counter("ladle_guardrail_verdicts_total", "Verdicts by action", ["policy", "action"])
ROUTED = Counter("ladle_guardrail_routed_total", "Results routed, by route", ["route"])
CHECK_ERRORS = Counter("ladle_guardrail_check_errors_total", "Checks that raised", ["check"])


# Children looked up once: a labels() call costs more than the check it counts.
@cache
def check_seconds(check: str):
    return CHECK_SECONDS.labels(check)


@cache
def _checks(policy: str, check: str, passed: str):
    return CHECKS.labels(policy, check, passed)


def count_checks(policy: str, check: str, passed: int, failed: int) -> None:
    if passed:
        _checks(policy, check, "true").inc(passed)
    if failed:
        _checks(policy, check, "false").inc(failed)


@cache
def _verdicts(policy: str, action: str):
    return VERDICTS.labels(policy, action)


def verdict(policy: str, action: str) -> None:
    _verdicts(policy, action).inc()


@cache
def _routed(route: str):
    return ROUTED.labels(route)


def routed(route: str) -> None:
    _routed(route).inc()
