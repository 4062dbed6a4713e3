"""Which items were already enriched (item, content, prompt version, model), across restarts.

A key is written to SQLite only once the results it stands for are durably in
Kafka. The runtime's checkpoint is: worker.flush(), producer flush, commit. So
the keys of the batches before checkpoint N are *staged* at N and written at
N+1, when N's producer flush has succeeded (a failed one crashes the process
before N+1). On a clean close the last checkpoint's flush has succeeded too, so
the staged keys are written then; after a crash they are dropped, and the replay
re-enriches those items (a repeated model call, never a lost result).
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path


class DoneState:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS done (key TEXT PRIMARY KEY, item_id TEXT NOT NULL, at REAL NOT NULL)"
        )
        self.current: dict[str, str] = {}  # key -> item_id, since the last checkpoint
        self.staged: dict[str, str] = {}  # before the last checkpoint: durable once its producer flush returned

    def seen(self, keys: list[str]) -> set[str]:
        """The keys among these that were enriched, in SQLite or in this process."""
        found = {k for k in keys if k in self.current or k in self.staged}
        rest = [k for k in keys if k not in found]
        for i in range(0, len(rest), 500):
            part = rest[i : i + 500]
            rows = self.db.execute(f"SELECT key FROM done WHERE key IN ({','.join('?' * len(part))})", part)
            found.update(r[0] for r in rows)
        return found

    def add(self, keys: dict[str, str]) -> None:
        """Keys (-> item_id) whose results were handed to the runtime for publishing."""
        self.current.update(keys)

    def checkpoint(self) -> None:
        """Called from the worker's flush(), before the runtime flushes its producer."""
        self._write(self.staged)
        self.staged, self.current = self.current, {}

    def close(self, *, clean: bool) -> None:
        if clean:
            # ``current`` stays out: it is empty after the final checkpoint, and anything
            # in it was never flushed to Kafka.
            self._write(self.staged)
        self.db.close()

    def count(self) -> int:
        return self.db.execute("SELECT count(*) FROM done").fetchone()[0]

    def _write(self, keys: dict[str, str]) -> None:
        if not keys:
            return
        now = time.time()
        with self.db:
            self.db.execute("BEGIN")
            self.db.executemany(
                "INSERT OR REPLACE INTO done (key, item_id, at) VALUES (?, ?, ?)",
                [(k, i, now) for k, i in keys.items()],
            )
