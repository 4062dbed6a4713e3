"""Grafana provisioning for the local stack: the ClickHouse datasource on the sink's ClickHouse
interface (embedded chDB behind an analyst login) and the Ladle dashboard from the repository.

`ladle up` writes it under data/grafana/provisioning; point a Grafana with the
grafana-clickhouse-datasource plugin at it (GF_PATHS_PROVISIONING). Compose provisions its
own from deploy/grafana/provisioning, against the ClickHouse server.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from shared.settings import REPO_ROOT

DEMO_PASSWORD = "ladle-analyst"


def write_provisioning(home: Path, *, sink_port: int, user: str, password: str) -> Path:
    """Writes datasources/ladle.yaml and dashboards/ladle.yaml under ``home``; returns ``home``.
    A password other than the documented demo one stays out of the file: Grafana reads it from
    LADLE_SINK_API_PASSWORD in its own environment."""
    secret = password if password == DEMO_PASSWORD else "${LADLE_SINK_API_PASSWORD}"
    datasource = {
        "apiVersion": 1,
        "datasources": [{
            "name": "Ladle (sink)", "uid": "ladle-clickhouse", "type": "grafana-clickhouse-datasource",
            "isDefault": True,
            "jsonData": {"host": "127.0.0.1", "port": sink_port, "protocol": "http", "defaultDatabase": "ladle",
                         "username": user},
            "secureJsonData": {"password": secret},
        }],
    }  # fmt: skip
    dashboards = {
        "apiVersion": 1,
        "providers": [{"name": "ladle", "folder": "Ladle", "type": "file",
                       "options": {"path": str(REPO_ROOT / "deploy" / "grafana" / "dashboards")}}],
    }  # fmt: skip
    for kind, doc in (("datasources", datasource), ("dashboards", dashboards)):
        (home / kind).mkdir(parents=True, exist_ok=True)
        (home / kind / "ladle.yaml").write_text(
            "# Written by `ladle up` (ladle/stack/grafana.py); rewritten at every start.\n"
            + yaml.safe_dump(doc, sort_keys=False)
        )
    return home
