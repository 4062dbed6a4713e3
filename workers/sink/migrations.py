"""Schema migrations: numbered SQL files in deploy/clickhouse, applied in order once.

`migrate(store)` records each applied version in ``ladle_schema_migrations`` and
skips it next time, so it is safe to run at every start. Every statement is also
written with IF NOT EXISTS, so a file interrupted half-way re-runs cleanly.
``${body_ttl_days}`` in a file is the raw-body TTL; changing the setting later is
applied by `ensure_body_ttl`, which migrate() runs each time.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from string import Template

import structlog

from workers.sink.store import ClickHouseStore
from workers.sink.ttl import ensure_body_ttl

log = structlog.get_logger()

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "deploy" / "clickhouse"
MIGRATIONS_TABLE = "ladle_schema_migrations"
_FILE_RE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    text: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()[:16]

    def statements(self, body_ttl_days: int) -> list[str]:
        sql = Template(self.text).substitute(body_ttl_days=int(body_ttl_days))
        lines = [ln for ln in sql.splitlines() if not ln.lstrip().startswith("--")]
        return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    found = []
    for path in sorted(directory.glob("*.sql")):
        m = _FILE_RE.match(path.name)
        if m is None:
            raise ValueError(f"migration file {path.name} must be named NNNN_snake_case.sql")
        found.append(Migration(int(m.group(1)), m.group(2), path.read_text()))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise ValueError(f"duplicate migration numbers in {directory}")
    return found


def applied_versions(store: ClickHouseStore) -> dict[int, str]:
    _, rows = store.query(f"SELECT version, checksum FROM {MIGRATIONS_TABLE} FINAL")
    return {int(v): c for v, c in rows}


def migrate(store: ClickHouseStore, *, body_ttl_days: int = 30, directory: Path = MIGRATIONS_DIR) -> list[int]:
    """Apply the migrations not applied yet; returns their versions."""
    store.command(
        f"CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} (version UInt32, name String, checksum String, "
        "applied_at DateTime64(3, 'UTC') DEFAULT now64(3)) ENGINE = ReplacingMergeTree ORDER BY version"
    )
    done = applied_versions(store)
    applied = []
    for migration in load_migrations(directory):
        if migration.version in done:
            if done[migration.version] != migration.checksum:
                log.warning("clickhouse.migration_changed_after_apply", version=migration.version, name=migration.name)
            continue
        for statement in migration.statements(body_ttl_days):
            store.command(statement)
        store.command(
            f"INSERT INTO {MIGRATIONS_TABLE} (version, name, checksum) VALUES (%(v)s, %(n)s, %(c)s)",
            parameters={"v": migration.version, "n": migration.name, "c": migration.checksum},
        )
        applied.append(migration.version)
        log.info("clickhouse.migration_applied", version=migration.version, name=migration.name)
    ensure_body_ttl(store, body_ttl_days)
    return applied
