"""ClickHouse's HTTP interface on the sink's API port, proved with clients nobody here wrote:
clickhouse-connect, the official ClickHouse JDBC driver (a small Java program), curl, and the
SQL of every Grafana panel. The data is landed by the real sink from Kafka first, so every
count is what was produced."""

from __future__ import annotations

import gzip
import io
import json
import shutil
import subprocess
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from shared.kafka import clients
from shared.kafka.broker import free_port
from shared.settings import REPO_ROOT, LadleSettings
from tests.fixtures.accounts import ANALYST_AUTH
from tests.fixtures.sink_events import sample_events
from tests.integration.test_sink_kafka import calls, produce_events, run_sink, wait_for
from tests.integration.test_sink_store import RAW_COUNTS, open_store
from topics import apply as topic_apply
from topics.registry import Namespace
from workers.sink.accounts import Accounts
from workers.sink.api import serve_in_thread
from workers.sink.chcompress import read_native_blocks
from workers.sink.settings import SinkSettings

EXTRA_CALLS = 3000
JDBC_LIBS = REPO_ROOT / ".cache" / "jdbc" / "libs"
USERS = REPO_ROOT / "deploy" / "sink" / "users.yaml"


@dataclass
class Sink:
    url: str
    port: int
    database: str
    store: object
    events: list
    settings: SinkSettings

    @property
    def calls(self) -> int:
        return sum(1 for t, _ in self.events if t == "llm.calls")


def wait_up(url: str) -> None:
    for _ in range(100):
        try:
            if httpx.get(f"{url}/ping", timeout=2).text == "Ok.\n":
                return
        except httpx.HTTPError:
            pass
        import time

        time.sleep(0.1)
    raise AssertionError(f"{url} never answered /ping")


@pytest.fixture(scope="module")
def sink(broker, chdb_root, tmp_path_factory):
    """The sample events and 3000 more calls, produced to Kafka and landed by the real sink; then
    its API served over the store, as `ladle worker sink` does."""
    prefix = f"t{uuid.uuid4().hex[:10]}."
    settings = LadleSettings(
        kafka_bootstrap=broker.bootstrap, topic_prefix=prefix, data_dir=tmp_path_factory.mktemp("data")
    )
    topic_apply.ensure(clients.admin(settings), Namespace(prefix))
    events = sample_events() + calls(EXTRA_CALLS, "clients")
    n = produce_events(settings, events)
    store = open_store(chdb_root)
    run_sink(settings, store, f"{prefix}sink", n)
    sink_settings = SinkSettings(data_dir=chdb_root, clickhouse_database=store.database)
    port = free_port()
    api = serve_in_thread(store, "127.0.0.1", port, Accounts.load(USERS), sink_settings)
    url = f"http://127.0.0.1:{port}"
    wait_up(url)
    yield Sink(url, port, store.database, store, events, sink_settings)
    api.stop()
    store.command(f"DROP DATABASE IF EXISTS `{store.database}`")
    store.close()


def ch(sink: Sink, sql: str, **params) -> httpx.Response:
    return httpx.post(f"{sink.url}/", params=params, content=sql, auth=ANALYST_AUTH, timeout=60)


def produced_teams(sink: Sink) -> dict[str, int]:
    return dict(sorted(Counter(e.team for t, e in sink.events if t == "llm.calls").items()))


# -- clickhouse-connect ------------------------------------------------------------------------


def test_clickhouse_connect_reads_what_was_produced_and_cannot_write(sink):
    import clickhouse_connect
    from clickhouse_connect.driver.exceptions import DatabaseError

    client = clickhouse_connect.get_client(
        host="127.0.0.1", port=sink.port, username="analyst", password="ladle-analyst", database=sink.database
    )
    assert client.query("SELECT count() FROM llm_calls").result_rows == [(sink.calls,)]
    assert sink.calls == RAW_COUNTS["llm_calls"] + EXTRA_CALLS
    teams = client.query("SELECT team, count() FROM llm_calls GROUP BY team ORDER BY team").result_rows
    assert dict(teams) == produced_teams(sink)
    bound = client.query("SELECT count() FROM llm_calls WHERE team = {team:String}", parameters={"team": "search"})
    assert bound.result_rows == [(produced_teams(sink)["search"],)]

    df = client.query_df("SELECT call_id, team, input_tokens FROM llm_calls ORDER BY call_id")
    assert df.shape == (sink.calls, 3)
    assert df["team"].value_counts().sort_index().to_dict() == produced_teams(sink)
    assert int(df["input_tokens"].sum()) == sum(e.usage.input_tokens for t, e in sink.events if t == "llm.calls")
    table = client.query_arrow("SELECT call_id, cost_usd FROM llm_calls")
    assert table.num_rows == sink.calls and table.column_names == ["call_id", "cost_usd"]

    with pytest.raises(DatabaseError) as refused:
        client.insert("llm_calls", [["from-clickhouse-connect"]], column_names=["event_id"])
    assert "Code: 164" in str(refused.value) and "(READONLY)" in str(refused.value)
    with pytest.raises(DatabaseError, match=r"Code: 164"):
        client.command("DROP TABLE llm_calls")
    assert client.query("SELECT count() FROM llm_calls").result_rows == [(sink.calls,)]


# -- JDBC --------------------------------------------------------------------------------------


def jdbc_libs() -> Path:
    """The driver's jars (`make setup` resolves them; the same command here when it has not run)."""
    if not (JDBC_LIBS / ".resolved").exists():
        subprocess.run(
            ["mvn", "-q", "-B", "-f", str(REPO_ROOT / "tests/jdbc/pom.xml"), "dependency:copy-dependencies",
             "-DincludeScope=runtime", f"-DoutputDirectory={JDBC_LIBS}"],
            check=True, timeout=600,
        )  # fmt: skip
        (JDBC_LIBS / ".resolved").touch()
    return JDBC_LIBS


def test_the_official_jdbc_driver_lists_tables_queries_and_is_refused_a_write(sink):
    libs = jdbc_libs()
    url = f"jdbc:clickhouse://127.0.0.1:{sink.port}/{sink.database}"
    res = subprocess.run(
        ["java", "-cp", f"{libs}/*", str(REPO_ROOT / "tests/jdbc/LadleJdbc.java"), url, *ANALYST_AUTH],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    lines = [line.split("\t") for line in res.stdout.splitlines()]
    facts: dict[str, list[list[str]]] = {}
    for kind, *rest in lines:
        facts.setdefault(kind, []).append(rest)
    assert facts["product"] == [["ClickHouse", facts["product"][0][1]]]
    tables = {t for db, t in facts["table"] if db == sink.database}
    assert {"llm_calls", "enrichment_results", "dead_letters", "cost_daily", "latency_hourly"} <= tables
    assert facts["column"] == [["llm_calls", "team", "LowCardinality(String)"]]
    assert facts["count"] == [[str(sink.calls)]]
    assert [(t, int(n)) for t, n, _cost in facts["team"]] == list(produced_teams(sink).items())
    assert facts["bound"] == [[str(produced_teams(sink)["search"])]]
    [(verdict, message)] = facts["write"]
    assert verdict == "refused" and "Code: 164" in message and "readonly" in message


# -- curl --------------------------------------------------------------------------------------


def curl(sink: Sink, sql: str, *args: str) -> bytes:
    res = subprocess.run(
        ["curl", "-sS", "--fail-with-body", "-u", ":".join(ANALYST_AUTH), *args,
         f"{sink.url}/?database={sink.database}", "--data-binary", sql],
        capture_output=True, timeout=60,
    )  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    return res.stdout


TEAMS_SQL = "SELECT team, count() AS calls FROM llm_calls GROUP BY team ORDER BY team"


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_gets_every_format_it_asks_for(sink):
    import pyarrow as pa
    import pyarrow.parquet as pq

    teams = produced_teams(sink)
    assert curl(sink, TEAMS_SQL + " FORMAT CSVWithNames").decode().splitlines() == [
        '"team","calls"',
        *[f'"{t}",{n}' for t, n in teams.items()],
    ]
    assert curl(sink, TEAMS_SQL + " FORMAT TabSeparatedWithNames").decode().splitlines() == [
        "team\tcalls",
        *[f"{t}\t{n}" for t, n in teams.items()],
    ]
    assert [json.loads(x) for x in curl(sink, TEAMS_SQL + " FORMAT JSONEachRow").splitlines()] == [
        {"team": t, "calls": n} for t, n in teams.items()
    ]
    doc = json.loads(curl(sink, TEAMS_SQL + " FORMAT JSON"))
    assert doc["rows"] == len(teams) and doc["data"] == [{"team": t, "calls": n} for t, n in teams.items()]
    assert json.loads(curl(sink, TEAMS_SQL + " FORMAT JSONCompact"))["data"] == [[t, n] for t, n in teams.items()]
    assert curl(sink, TEAMS_SQL + " FORMAT CSV").decode().splitlines() == [f'"{t}",{n}' for t, n in teams.items()]
    assert curl(sink, TEAMS_SQL).decode().splitlines() == [f"{t}\t{n}" for t, n in teams.items()]  # TabSeparated
    parquet = pq.read_table(io.BytesIO(curl(sink, TEAMS_SQL + " FORMAT Parquet")))
    assert parquet.to_pylist() == [{"team": t, "calls": n} for t, n in teams.items()]
    arrow = pa.ipc.open_file(io.BytesIO(curl(sink, TEAMS_SQL + " FORMAT Arrow"))).read_all()
    assert arrow.to_pylist() == [{"team": t, "calls": n} for t, n in teams.items()]
    rows = curl(sink, "SELECT call_id FROM llm_calls FORMAT JSONEachRow", "--compressed").splitlines()
    assert len(rows) == sink.calls


# -- the protocol, the refusals ---------------------------------------------------------------


def test_formats_parameters_headers_and_compression_follow_clickhouse(sink):
    r = ch(sink, TEAMS_SQL, default_format="JSONEachRow", param_x="1")
    assert r.status_code == 200 and r.headers["X-ClickHouse-Format"] == "JSONEachRow"
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.headers["X-ClickHouse-Timezone"] and uuid.UUID(r.headers["X-ClickHouse-Query-Id"])
    assert set(json.loads(r.headers["X-ClickHouse-Summary"])) >= {"read_rows", "read_bytes", "elapsed_ns"}
    r = ch(sink, "SELECT {team:String} AS t, {n:UInt8} + 1 AS n FORMAT JSONEachRow", param_team="it's", param_n="41")
    assert r.json() == {"t": "it's", "n": 42}
    r = httpx.get(f"{sink.url}/", params={"query": "SELECT 1", "database": sink.database}, auth=ANALYST_AUTH)
    assert r.text == "1\n" and r.headers["X-ClickHouse-Format"] == "TabSeparated"
    assert httpx.get(f"{sink.url}/").text == "Ok.\n" and httpx.get(f"{sink.url}/ping").text == "Ok.\n"
    r = httpx.post(
        f"{sink.url}/", params={"query": "SELECT call_id FROM llm_calls ORDER BY call_id", "database": sink.database},
        headers={"X-ClickHouse-User": "analyst", "X-ClickHouse-Key": "ladle-analyst", "Accept-Encoding": "gzip"},
    )  # fmt: skip
    assert r.headers["Content-Encoding"] == "gzip" and len(r.text.splitlines()) == sink.calls  # httpx decodes gzip
    raw = httpx.post(f"{sink.url}/", params={"compress": "1", "database": sink.database}, content=TEAMS_SQL,
                     auth=ANALYST_AUTH).content  # fmt: skip
    assert read_native_blocks(raw).decode().splitlines() == [f"{t}\t{n}" for t, n in produced_teams(sink).items()]
    body = gzip.compress(TEAMS_SQL.encode())
    r = httpx.post(f"{sink.url}/", params={"database": sink.database}, content=body, auth=ANALYST_AUTH,
                   headers={"Content-Encoding": "gzip"})  # fmt: skip
    assert r.text.splitlines() == [f"{t}\t{n}" for t, n in produced_teams(sink).items()]
    r = ch(sink, "SELECT count() FROM llm_calls", wait_end_of_query="1")
    assert json.loads(r.headers["X-ClickHouse-Summary"])["read_rows"] != "0"


def test_settings_pass_the_allow_list_within_the_ceilings(sink):
    got = "SELECT getSetting('max_execution_time'), getSetting('max_result_rows'), getSetting('readonly'), " \
          "getSetting('session_timezone') FORMAT TSV"  # fmt: skip
    r = ch(sink, got, max_execution_time="5", max_result_rows="7", session_timezone="Europe/Berlin")
    assert r.text == "5\t7\t1\tEurope/Berlin\n" and r.headers["X-ClickHouse-Timezone"] == "Europe/Berlin"
    r = ch(sink, got, max_execution_time="0", max_result_rows="999999999999", readonly="0")
    ceiling = (sink.settings.clickhouse_query_timeout_s, sink.settings.clickhouse_export_max_rows)
    assert r.text == f"{ceiling[0]}\t{ceiling[1]}\t1\t\n"
    r = ch(sink, "SELECT number FROM numbers(10)", max_result_rows="3")
    assert r.status_code == 500 and r.headers["X-ClickHouse-Exception-Code"] == "396"
    r = ch(sink, "SELECT 1", max_insert_threads="7")
    assert r.status_code == 500 and r.text.startswith("Code: 164. DB::Exception: Cannot modify 'max_insert_threads'")
    r = ch(sink, "SELECT 1 SETTINGS max_threads = 64")
    assert r.headers["X-ClickHouse-Exception-Code"] == "164"


def test_logins_writes_and_bad_sql_get_clickhouse_errors(sink, tmp_path):
    anon = httpx.post(f"{sink.url}/", content="SELECT 1")
    assert anon.status_code == 401 and anon.headers["X-ClickHouse-Exception-Code"] == "194"
    assert anon.text.startswith("Code: 194. DB::Exception: ") and anon.text.rstrip().endswith("(REQUIRED_PASSWORD)")
    wrong = httpx.post(f"{sink.url}/", content="SELECT 1", auth=("analyst", "nope"))
    assert wrong.status_code == 401 and wrong.text.startswith(
        "Code: 516. DB::Exception: analyst: Authentication failed"
    )
    assert httpx.post(f"{sink.url}/", content="SELECT 1", auth=("nobody", "ladle-analyst")).status_code == 401
    for path in ("/query?sql=SELECT+1", "/reports/cost"):
        assert httpx.get(f"{sink.url}{path}").status_code == 401
        assert httpx.get(f"{sink.url}{path}", auth=("analyst", "nope")).status_code == 401
        assert httpx.get(f"{sink.url}{path}", auth=ANALYST_AUTH).status_code == 200
    assert httpx.get(f"{sink.url}/health").status_code == 200  # health stays open

    bad = ch(sink, "SELEC count() FROM llm_calls")
    assert bad.status_code == 400 and bad.headers["X-ClickHouse-Exception-Code"] == "62"
    assert bad.text.startswith("Code: 62. DB::Exception: Syntax error")
    missing = ch(sink, "SELECT * FROM no_such_table")
    assert missing.status_code == 404 and missing.headers["X-ClickHouse-Exception-Code"] == "60"
    for sql in ("INSERT INTO llm_calls (event_id) VALUES ('x')", "DROP TABLE llm_calls", "ALTER TABLE llm_calls DELETE WHERE 1",
                "SELECT * FROM file('/etc/hostname', 'LineAsString')"):  # fmt: skip
        r = ch(sink, sql)
        assert r.status_code == 500 and r.headers["X-ClickHouse-Exception-Code"] == "164", (sql, r.text)
    two = ch(sink, "SELECT 1; KILL QUERY WHERE 1")
    assert two.status_code == 400 and "Multi-statements are not allowed" in two.text
    kill = ch(sink, "kill /* hidden */ query where 1")
    assert kill.status_code == 403 and kill.headers["X-ClickHouse-Exception-Code"] == "497"
    target = tmp_path / "leak.csv"
    out = ch(sink, f"SELECT * FROM llm_calls INTO OUTFILE '{target}'")
    assert out.headers["X-ClickHouse-Exception-Code"] == "358" and not target.exists()
    assert ch(sink, "SELECT count() FROM llm_calls").text == f"{sink.calls}\n"


# -- Grafana -----------------------------------------------------------------------------------


def grafana_macros(sql: str, from_ms: int) -> str:
    """What the Grafana ClickHouse plugin does to a panel's SQL before it sends it."""
    return sql.replace("$__fromTime", f"fromUnixTimestamp64Milli({from_ms})")


def test_every_grafana_panel_runs_through_the_interface(sink):
    import time

    import clickhouse_connect

    client = clickhouse_connect.get_client(
        host="127.0.0.1", port=sink.port, username="analyst", password="ladle-analyst", database=sink.database
    )
    dash = json.loads((REPO_ROOT / "deploy/grafana/dashboards/ladle.json").read_text())
    from_ms = int((time.time() - 30 * 86_400) * 1000)
    for panel in dash["panels"]:
        sql = grafana_macros(panel["targets"][0]["rawSql"], from_ms)
        rows = client.query(sql).result_rows
        assert rows, f"panel {panel['title']!r} shows nothing"
        native = ch(sink, sql, default_format="Native")  # what the plugin's Go driver reads
        assert native.status_code == 200 and native.content, panel["title"]


def test_the_grafana_datasource_ladle_up_writes_points_at_the_interface(tmp_path):
    import yaml

    from ladle.stack.grafana import write_provisioning

    path = write_provisioning(tmp_path, sink_port=18082, user="analyst", password="ladle-analyst")
    ds = yaml.safe_load((path / "datasources" / "ladle.yaml").read_text())["datasources"][0]
    assert ds["type"] == "grafana-clickhouse-datasource" and ds["uid"] == "ladle-clickhouse"
    assert ds["jsonData"] == {"host": "127.0.0.1", "port": 18082, "protocol": "http", "defaultDatabase": "ladle",
                              "username": "analyst"}  # fmt: skip
    assert ds["secureJsonData"] == {"password": "ladle-analyst"}
    board = yaml.safe_load((path / "dashboards" / "ladle.yaml").read_text())["providers"][0]
    assert Path(board["options"]["path"]) == REPO_ROOT / "deploy" / "grafana" / "dashboards"


# -- beside ingestion --------------------------------------------------------------------------

# 40 MB of uncompressed text: more than the sockets between here and the sink hold, so a client
# that reads one chunk keeps the query running, and its session open, for as long as it likes.
HELD_OPEN = "SELECT number FROM numbers(5000000) FORMAT TSV"
IDENTITY = {"Accept-Encoding": "identity"}


def test_an_open_analyst_query_does_not_hold_the_sinks_inserts(sink):
    """An analyst's query that has not finished (its client reads nothing) holds a session of its
    own, never the writer's: the sink lands a batch meanwhile. Under the old shared lock the
    insert would wait for the query, and this test would hang."""
    from shared.pricing import Pricing
    from tests.integration.test_sink_store import land, records
    from workers.sink.worker import ClickHouseSink

    before = sink.store.scalar("SELECT count() FROM catalog_embedded")
    with httpx.stream("POST", f"{sink.url}/", params={"database": sink.database},
                      content=HELD_OPEN, auth=ANALYST_AUTH, headers=IDENTITY) as open_query:  # fmt: skip
        assert open_query.status_code == 200
        reading = open_query.iter_raw()  # kept: a dropped iterator closes the response
        next(reading)  # the query is running and streaming
        embedded = [(t, e) for t, e in sink.events if t == "catalog.embedded"]
        late = [(t, e.model_copy(update={"event_id": f"late-{i}"})) for i, (t, e) in enumerate(embedded)]
        land(ClickHouseSink(sink.store, Pricing.load()), records(late))
        assert sink.store.scalar("SELECT count() FROM catalog_embedded") == before + len(late) == 2 * len(late)
    assert ch(sink, "SELECT 1").text == "1\n"


def test_too_many_simultaneous_queries_get_503(sink):
    port = free_port()
    one = sink.settings.model_copy(update={"clickhouse_max_concurrent_queries": 1})
    api = serve_in_thread(sink.store, "127.0.0.1", port, Accounts.load(USERS), one)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_up(url)
        with httpx.stream("POST", f"{url}/", content=HELD_OPEN, auth=ANALYST_AUTH, headers=IDENTITY) as open_query:
            reading = open_query.iter_raw()  # kept: a dropped iterator closes the response
            next(reading)
            busy = httpx.post(f"{url}/", content="SELECT 1", auth=ANALYST_AUTH)
            assert busy.status_code == 503 and busy.headers["X-ClickHouse-Exception-Code"] == "202"
        # The slot comes back once the sink has seen the client go (asynchronously): wait for it.
        assert wait_for(lambda: httpx.post(f"{url}/", content="SELECT 1", auth=ANALYST_AUTH).text == "1\n")
    finally:
        api.stop()


def test_ladle_clients_send_the_configured_account(sink, monkeypatch):
    from shared.runtime.errors import UserError
    from workers.sink.client import query_api

    monkeypatch.setenv("LADLE_SINK_API_URL", sink.url)
    rows = query_api("/query", json={"sql": f"SELECT count() FROM {sink.database}.llm_calls"})
    assert rows.rows == [(sink.calls,)]
    monkeypatch.setenv("LADLE_SINK_API_PASSWORD", "wrong")
    with pytest.raises(UserError, match="refused the account 'analyst'"):
        query_api("/query", json={"sql": "SELECT 1"})


def test_stopping_the_api_cancels_the_queries_still_running(sink):
    """The sink closes its store after its API: a query still streaming then is cancelled, not
    left running on a store that is about to close."""
    port = free_port()
    api = serve_in_thread(sink.store, "127.0.0.1", port, Accounts.load(USERS), sink.settings)
    url = f"http://127.0.0.1:{port}"
    wait_up(url)
    with httpx.stream("POST", f"{url}/", content=HELD_OPEN, auth=ANALYST_AUTH, headers=IDENTITY) as open_query:
        reading = open_query.iter_raw()
        got = len(next(reading))
        assert api.analysts._open  # the query holds its session
        api.stop()
        assert not api.analysts._open and not api.thread.is_alive()
        try:
            got += sum(len(chunk) for chunk in reading)
        except httpx.HTTPError:
            pass  # the connection closed mid-answer
    assert got < len("\n".join(map(str, range(5_000_000))))
