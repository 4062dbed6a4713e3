"""What every benchmark shares: the JSON line format of docs/benchmarks.md."""

from __future__ import annotations


def figure(
    bench: str, metric: str, value: float, baseline: float, unit: str, higher_is_better: bool = True, **extra
) -> dict:
    ratio = (value / baseline if higher_is_better else baseline / value) if value and baseline else 0.0
    line = {
        "bench": bench,
        "metric": metric,
        "value": round(value, 3),
        "baseline": round(baseline, 3),
        "ratio": round(ratio, 3),
        "unit": unit,
    }
    line.update(extra)
    return line
