"""The whole stack under `ladle up` while catalog changes flow: SIGKILL each worker in
turn and restart the broker once; afterwards `ladle check` finds nothing missing,
stale or double-counted, and every killed service was restarted by the supervisor.

Its own broker (on free ports, so the restart touches no other test), its own
data folder, the real workers: MiniLM embedder, llama.cpp enricher on Ray,
guardrails (faust), chDB sink.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from schemas import CatalogChange, CatalogItem
from shared.kafka.broker import free_port
from shared.runtime import codec
from shared.settings import REPO_ROOT, LadleSettings
from tests.integration.kafka_helpers import produce, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.reliability]

WORKERS = ("sink", "embedder", "guardrails", "enricher")
SAMPLE = REPO_ROOT / "deploy" / "catalog" / "sample_catalog.jsonl"


def ladle(env: dict, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ladle.cli", *args], env=env, capture_output=True, text=True,
                          timeout=timeout, cwd=Path(env["LADLE_DATA_DIR"]).parent)  # fmt: skip


def state(data: Path) -> dict:
    return json.loads((data / "stack" / "state.json").read_text())["services"]


@pytest.fixture
def stack(tmp_path):
    data = tmp_path / "data"
    port = free_port()
    env = dict(os.environ)
    env.update(
        LADLE_DATA_DIR=str(data), LADLE_BROKER_PORT=str(port), LADLE_BROKER_CONTROLLER_PORT=str(free_port()),
        LADLE_BROKER_HEAP="512m", LADLE_KAFKA_BOOTSTRAP=f"127.0.0.1:{port}", LADLE_LOG_FORMAT="json",
        LADLE_SINK_API_PORT=str(free_port()), LADLE_SINK_METRICS_PORT=str(free_port()),
        LADLE_EMBEDDER_API_PORT=str(free_port()), LADLE_EMBEDDER_METRICS_PORT=str(free_port()),
        LADLE_GUARDRAILS_METRICS_PORT=str(free_port()), LADLE_ENRICHER_METRICS_PORT=str(free_port()),
        LADLE_ENRICHER_MAX_BATCH_SIZE="8",  # short batches: kills land mid-stream, not between two long ones
    )  # fmt: skip
    env["PYTHONPATH"] = str(REPO_ROOT)
    for name in ("LLM", "GATEWAY"):
        env[f"LADLE_{name}_PORT"] = str(free_port())
    # `ladle demo` is `ladle up` plus a few items all the way through: the stack the test then abuses.
    demo = ladle(env, "demo", "--items", "6", "--timeout", "600", timeout=900)
    try:
        assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
        assert "demo done" in demo.stdout and "items  " in demo.stdout.replace("│", " "), demo.stdout[-3000:]
        report = (tmp_path / "reports" / "demo.html").read_text()
        assert "<div class=tile><b>6</b><span>items</span></div>" in report, "the dashboard's items tile"
        assert "<h2>Cost by team and model</h2>" in report
        yield env, data
    finally:
        down = ladle(env, "down")
        print(down.stdout[-2000:], down.stderr[-2000:])


def sample_changes(n: int, version: int, suffix: str = "") -> list[CatalogChange]:
    # Rows 1, 5, 9, ...: not the demo's (0, 86, 173, ...).
    rows = [json.loads(line) for line in SAMPLE.read_text().splitlines()[1 : n * 4 : 4]]
    out = []
    for r in rows:
        r["description"] = (r.get("description") or "") + suffix
        out.append(CatalogChange(op="upsert", item_id=r["item_id"], version=version,
                                 item=CatalogItem.model_validate({k: v for k, v in r.items() if k != "version"})))  # fmt: skip
    return out


def send(env: dict, changes: list[CatalogChange]) -> None:
    settings = LadleSettings(kafka_bootstrap=env["LADLE_KAFKA_BOOTSTRAP"], data_dir=Path(env["LADLE_DATA_DIR"]))
    produce(settings, "catalog.changes", [(c.item_id, codec.encode(c)) for c in changes])


def kill(data: Path, name: str) -> int:
    """SIGKILL a service's whole process group (Ray and all) and wait for the supervisor to restart it."""
    before = state(data)[name]
    os.killpg(before["pid"], signal.SIGKILL)
    assert wait_for(lambda: state(data)[name]["restarts"] > before["restarts"], timeout=60), f"{name} not reaped"
    return before["restarts"] + 1


def test_kill_every_worker_and_restart_the_broker_then_check_is_clean(stack):
    env, data = stack
    first = sample_changes(24, version=1)
    send(env, first[:12])
    time.sleep(8)
    kill(data, "embedder")
    send(env, first[12:])
    time.sleep(10)
    kill(data, "enricher")  # mid-batch: the replay re-enriches, the state never skips an unpublished item
    updates = sample_changes(6, version=2, suffix=" Now with extra chilli.")
    send(env, updates)
    time.sleep(5)
    kill(data, "guardrails")
    assert ladle(env, "kafka", "stop").returncode == 0
    time.sleep(3)
    started = ladle(env, "kafka", "start")
    assert started.returncode == 0, started.stderr
    kill(data, "sink")
    deletes = [CatalogChange(op="delete", item_id=c.item_id, version=3) for c in first[20:22]]
    send(env, deletes)

    last = {}

    def clean() -> bool:
        res = ladle(env, "check", "--json", timeout=300)
        last["res"] = res
        return res.returncode == 0

    assert wait_for(clean, timeout=900, step=10), last["res"].stdout[-4000:] + last["res"].stderr[-2000:]
    report = json.loads(last["res"].stdout)
    print(report["summary"])
    stages = {st["stage"]: st for st in report["stages"]}
    assert report["clean"] and set(stages) == {"index", "enrichment", "guardrails", "clickhouse"}
    # The demo's 6 items and 24 more, 2 of them deleted: the index checks all 30 (28 present at their
    # latest version, 2 absent); enrichment and guardrails check the 28 live items at their latest version.
    assert (stages["index"]["checked"], stages["index"]["ok"]) == (30, 30)
    for name in ("enrichment", "guardrails"):
        assert (stages[name]["checked"], stages[name]["ok"]) == (28, 28), stages[name]
    for st in stages.values():
        assert st["missing"] == st["stale"] == st["duplicated"] == st["extra"] == st["dead_lettered"] == 0, st
    # Every killed worker came back and is healthy again.
    assert wait_for(lambda: all(state(data)[n]["state"] == "healthy" for n in WORKERS), timeout=120), state(data)
    assert all(state(data)[n]["restarts"] >= 1 for n in WORKERS), state(data)
    st = ladle(env, "status")
    assert st.returncode == 0, st.stdout
    for name in WORKERS:
        assert name in st.stdout
    logs = ladle(env, "logs", "sink", "-n", "3")
    lines = logs.stdout.strip().splitlines()
    assert logs.returncode == 0 and len(lines) == 3 and all(json.loads(x)["timestamp"] for x in lines), logs.stdout
