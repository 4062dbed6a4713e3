"""Team spend that survives restarts: an append-only ledger in ``<LADLE_DATA_DIR>/gateway``.

Why a file of the gateway's own, and not a replay of llm.calls at start-up: budgets must
hold when Kafka is down or events are off (LADLE_GATEWAY_EMIT_EVENTS=false), the topic
also carries the enricher's calls, its six partitions carry no order between them, and
reading a week of calls back would make every start slower as the topic grows. One line
per settled call costs one write() (no fsync: a killed process loses nothing, the OS
still has it; only a power cut may lose the last seconds of spend).

Each line is ``["team", usd]``. At open the ledger is summed and rewritten as one line
per team (atomically, tmp + rename), and again every ``compact_every`` lines. Sums are
taken in the order spend was added, so the restarted total equals the one in memory
bit for bit. A torn last line (a crash mid-write) is skipped with a warning. The file
is locked: two gateways on one data folder would each enforce half of the budget.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

import structlog

from shared.runtime.errors import FatalError

log = structlog.get_logger(__name__)


class SpendLedger:
    def __init__(self, path: Path, compact_every: int = 100_000) -> None:
        self.path, self.compact_every = path, compact_every
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = open(path.with_suffix(".lock"), "a")  # noqa: SIM115 - held for the process's life
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            raise FatalError(
                f"the spend ledger {path} is held by another gateway with the same LADLE_DATA_DIR; "
                "stop it or give this one its own"
            ) from None
        self.totals: dict[str, float] = self._read()
        self._compact()

    def _read(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        if not self.path.exists():
            return totals
        for n, line in enumerate(self.path.read_text().splitlines(), 1):
            try:
                team, usd = json.loads(line)
                totals[team] = totals.get(team, 0.0) + float(usd)
            except (ValueError, TypeError):
                log.warning("gateway.spend_line_skipped", file=str(self.path), line=n)
        return totals

    def _compact(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "w") as f:
            f.writelines(json.dumps([t, usd]) + "\n" for t, usd in self.totals.items())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        self._lines = len(self.totals)

    def add(self, team: str, usd: float) -> None:
        if not usd:
            return
        self.totals[team] = self.totals.get(team, 0.0) + usd
        os.write(self._fd, (json.dumps([team, usd]) + "\n").encode())  # one write: lines never interleave
        self._lines += 1
        if self._lines >= self.compact_every:
            os.close(self._fd)
            self._compact()

    def close(self) -> None:
        os.close(self._fd)
        self._lock.close()
