"""Fixtures of the integration tests that need the sink's store (real chDB)."""

from __future__ import annotations

import uuid

import pytest

from workers.sink.migrations import migrate
from workers.sink.settings import SinkSettings
from workers.sink.store import ClickHouseStore


def open_store(root, **settings) -> ClickHouseStore:
    """A migrated store in a database of its own inside the session's chDB folder."""
    s = SinkSettings(data_dir=root, clickhouse_database=f"t_{uuid.uuid4().hex[:12]}", **settings)
    store = ClickHouseStore.open(s)
    migrate(store, body_ttl_days=s.clickhouse_body_ttl_days)
    return store


@pytest.fixture
def store(chdb_root):
    s = open_store(chdb_root)
    yield s
    s.command(f"DROP DATABASE IF EXISTS `{s.database}`")
    s.close()
