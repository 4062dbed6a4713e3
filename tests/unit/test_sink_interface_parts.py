"""The parts of the sink's ClickHouse interface that need no store: settings, formats, compression,
accounts, statement checks, and the team keys the embedder reads from the gateway's file."""

from __future__ import annotations

import base64
import gzip
import zlib

import lz4.frame
import pytest

from shared.keyhash import sha256_hex, team_key_hashes
from shared.runtime.errors import UserError
from shared.settings import REPO_ROOT
from workers.sink import chcompress
from workers.sink.accounts import Accounts, account_line, credentials
from workers.sink.chformats import content_type, format_clause
from workers.sink.chsettings import Ceilings, SettingRefused, session_settings
from workers.sink.statements import QueryFailed, check

CEILINGS = Ceilings(max_execution_time=60, max_result_rows=1000, max_threads=2, max_memory_usage=1 << 30)


def test_settings_keep_their_ceilings_and_refuse_what_is_not_allowed():
    settings, restated = session_settings({"max_result_rows": "10", "session_timezone": "UTC"}, CEILINGS)
    assert settings == {"max_execution_time": "60", "max_result_rows": "10", "result_overflow_mode": "throw",
                        "max_threads": "2", "max_memory_usage": str(1 << 30), "os_threads_nice_value_query": "19",
                        "priority": "2", "session_timezone": "UTC"}  # fmt: skip
    assert restated == {}
    settings, _ = session_settings(
        {"max_execution_time": "0", "max_result_rows": "5000", "max_threads": "auto", "max_memory_usage": "-1"},
        CEILINGS,
    )
    assert [settings[k] for k in ("max_execution_time", "max_result_rows", "max_threads", "max_memory_usage")] == [
        "60", "1000", "2", str(1 << 30)
    ]  # fmt: skip
    assert session_settings({"max_execution_time": "1.5"}, CEILINGS)[0]["max_execution_time"] == "1.5"
    settings, restated = session_settings(
        {"query": "x", "database": "d", "param_a": "1", "compress": "1", "readonly": "0", "max_insert_threads": "4",
         "output_format_json_quote_64bit_integers": "1", "async_insert": "0"},
        CEILINGS,
    )  # fmt: skip
    assert restated == {"max_insert_threads": "4"}
    assert settings["output_format_json_quote_64bit_integers"] == "1" and settings["async_insert"] == "0"
    assert "readonly" not in settings and "param_a" not in settings
    with pytest.raises(SettingRefused) as bad:
        session_settings({"max_threads": "many"}, CEILINGS)
    assert bad.value.code == 72
    with pytest.raises(SettingRefused) as bad:
        session_settings({"x; DROP": "1"}, CEILINGS)
    assert bad.value.code == 164


def test_formats_are_named_from_the_parsed_statement_not_from_its_strings():
    assert format_clause("SELECT 1 FORMAT JSON") == "JSON"
    assert format_clause("SELECT 1 FORMAT Parquet SETTINGS max_threads = 1") == "Parquet"
    assert format_clause("SELECT a FROM t SETTINGS max_threads = 1 FORMAT CSVWithNames") == "CSVWithNames"
    assert format_clause("SELECT ' FORMAT JSON' AS x") is None
    assert format_clause("SELECT format('{}', x) FROM t") is None
    assert content_type("TabSeparatedWithNames") == "text/tab-separated-values; charset=UTF-8"
    assert content_type("CSVWithNames") == "text/csv; charset=UTF-8; header=present"
    assert content_type("CSV") == "text/csv; charset=UTF-8; header=absent"
    assert content_type("JSONEachRow") == content_type("JSON") == "application/json; charset=UTF-8"
    assert content_type("Parquet") == content_type("RowBinaryWithNamesAndTypes") == "application/octet-stream"
    assert content_type("Pretty") == "text/plain; charset=UTF-8"


def test_clickhouse_compressed_blocks_match_an_independent_implementation():
    # The expected bytes were written by clickhouse-driver's compressor logic (CityHash128 v1.0.2
    # over method + sizes + LZ4 data), whose reader also accepted this module's longer output.
    block = bytes.fromhex("de0096b35d3e3fff37dd7e27e2c9bb68820f00000005000000504c61646c65")
    assert b"".join(chcompress.native_blocks(iter([b"La", b"dle"]))) == block
    raw = b"0123456789abcdef" * 200_000  # 3.2 MB: four blocks
    blob = b"".join(chcompress.native_blocks(iter([raw[:7], raw[7:]])))
    assert chcompress.read_native_blocks(blob) == raw
    with pytest.raises(chcompress.BadEncoding, match="checksum"):
        chcompress.read_native_blocks(blob[:10] + bytes([blob[10] ^ 1]) + blob[11:])


def test_http_encodings_round_trip_and_follow_accept_encoding():
    data = [b"team\tcalls\n", b"search\t5\n" * 1000]
    assert chcompress.choose_encoding("lz4, zstd, br, gzip, deflate") == "lz4"
    assert chcompress.choose_encoding("gzip;q=0, deflate") == "deflate"
    assert chcompress.choose_encoding("identity") is None and chcompress.choose_encoding(None) is None
    decoders = {"gzip": gzip.decompress, "deflate": zlib.decompress, "lz4": lz4.frame.decompress}
    for name, decode in decoders.items():
        encoded = b"".join(chcompress.encode_stream(iter(data), name))
        assert decode(encoded) == b"".join(data)
        assert chcompress.decode_body(encoded, name) == b"".join(data)
    with pytest.raises(chcompress.BadEncoding):
        chcompress.decode_body(b"not gzip", "gzip")


def test_accounts_check_sha256_passwords_from_any_of_clickhouses_credential_forms(tmp_path):
    users = tmp_path / "users.yaml"
    users.write_text("users:\n" + account_line("ana", "s3cret") + "\n")
    accounts = Accounts.load(users)
    assert accounts.check("ana", "s3cret") and not accounts.check("ana", "S3cret") and not accounts.check("bo", "x")
    basic = {"authorization": "Basic " + base64.b64encode(b"ana:s3:cret").decode()}
    assert credentials(basic, {}) == ("ana", "s3:cret")
    assert credentials({"x-clickhouse-user": "ana", "x-clickhouse-key": "k"}, {}) == ("ana", "k")
    assert credentials({}, {"user": "ana", "password": "p"}) == ("ana", "p")
    assert credentials({}, {}) is None
    assert credentials({"authorization": "Basic !!!"}, {}) == ("", "")
    shipped = Accounts.load(REPO_ROOT / "deploy" / "sink" / "users.yaml")
    assert shipped.check("analyst", "ladle-analyst")  # the documented demo account
    users.write_text("users:\n  - {name: ana, password_sha256: not-a-hash}\n")
    with pytest.raises(UserError, match="entry 1"):
        Accounts.load(users)


def test_what_readonly_mode_lets_through_is_refused():
    with pytest.raises(QueryFailed) as kill:
        check("KILL QUERY WHERE 1 ASYNC", "ana")
    assert kill.value.code == 497 and kill.value.text.startswith("Code: 497. DB::Exception: ana: Not enough privileges")
    with pytest.raises(QueryFailed) as outfile:
        check("SELECT 1 INTO OUTFILE 'x.csv'", "ana")
    assert outfile.value.code == 358
    check("SELECT 'INTO OUTFILE' AS x, 'KILL ' AS y", "ana")  # text inside strings is not a clause
    check(None, "ana")  # unparsable: the statement runs and fails with its own error
    failed = QueryFailed.from_engine(RuntimeError("chdb said: Code: 60. DB::Exception: default: Unknown table"), "ana")
    assert failed.code == 60 and failed.text == "Code: 60. DB::Exception: ana: Unknown table"


def test_the_embedder_reads_the_gateways_team_keys_without_the_gateway():
    teams = team_key_hashes(REPO_ROOT / "deploy" / "gateway" / "gateway.yaml")
    assert teams[sha256_hex("ladle-demo-key")] == "demo"
