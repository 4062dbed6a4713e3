"""What a failed flush means to the runtime: wait and replay, or crash and restart."""

from __future__ import annotations

from clickhouse_connect.driver.exceptions import ClickHouseError, OperationalError

from shared.runtime.errors import Backpressure, FatalError

# ClickHouse error codes that clear up by themselves (timeouts, network, memory,
# too many parts, read-only replica): pause the partitions and replay the batch.
TRANSIENT_CODES = {159, 202, 203, 209, 210, 241, 242, 252, 439}


def classify(exc: ClickHouseError) -> Exception:
    """A lost connection or a saturated server is Backpressure; anything else (a schema
    that does not match, a broken store) is fatal: restarting is the way out."""
    text = " ".join(str(exc).split())[:300]
    code = getattr(exc, "code", None)
    if isinstance(exc, OperationalError) or code in TRANSIENT_CODES:
        return Backpressure(f"ClickHouse is unavailable or saturated: {text}", retry_after=2.0)
    return FatalError(f"ClickHouse refused the sink's insert: {text}")
