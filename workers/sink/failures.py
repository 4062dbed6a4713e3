"""What a failed flush means to the runtime: wait and replay, or crash and restart."""

from __future__ import annotations

from clickhouse_connect.driver.exceptions import ClickHouseError, OperationalError

from shared.runtime.errors import Backpressure, FatalError

# ClickHouse error codes that clear up by themselves (timeouts, network, memory,
# too many parts, read-only replica): pause the partitions and replay the batch.
TRANSIENT_CODES = {159, 202, 203, 209, 210, 241, 242, 252, 439}

# The store's disk refused a write: a data folder made read-only, a full disk, lost
# permissions (CANNOT_READ_FROM/WRITE_TO_FILE_DESCRIPTOR, CANNOT_OPEN_FILE,
# NOT_ENOUGH_SPACE; chDB reports most as STD_EXCEPTION "filesystem error: ...
# Permission denied"). A restart cannot fix a disk, and an operator can: wait and
# replay the same batch, like any outage (fatal after the runtime's max_paused_s).
DISK_CODES = {74, 75, 76, 243}
DISK_ERRNOS = ("Permission denied", "Read-only file system", "No space left on device", "Disk quota exceeded")


def classify(exc: ClickHouseError) -> Exception:
    """A lost connection, a saturated server or a disk that refuses writes is Backpressure;
    anything else (a schema that does not match, a broken store) is fatal: restarting is
    the way out."""
    text = " ".join(str(exc).split())[:300]
    code = getattr(exc, "code", None)
    if isinstance(exc, OperationalError) or code in TRANSIENT_CODES:
        return Backpressure(f"ClickHouse is unavailable or saturated: {text}", retry_after=2.0)
    if code in DISK_CODES or any(e in text for e in DISK_ERRNOS):
        return Backpressure(f"ClickHouse cannot write to its disk: {text}", retry_after=2.0)
    return FatalError(f"ClickHouse refused the sink's insert: {text}")
