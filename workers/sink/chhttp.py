"""ClickHouse's HTTP interface on the sink's API port, over the store the sink owns, so
clickhouse-connect, the JDBC driver, Grafana's plugin and curl work against embedded chDB.

``GET`` and ``POST /`` (the query in the ``query`` parameter, the body, or both: parameter
first), ``/ping``; ``database`` and ``default_format`` (or the X-ClickHouse-Database and
X-ClickHouse-Format headers) and the query's own FORMAT clause; ``param_<name>``; the
settings chsettings.py allows; X-ClickHouse-* headers on every answer; gzip, deflate, lz4,
zstd or br as the client accepts them, or ClickHouse's ``compress=1`` blocks; errors as
ClickHouse writes them, with X-ClickHouse-Exception-Code and ClickHouse's HTTP status.
Every request needs an analyst account (accounts.py) and runs in its own read-only session
(analyst.py).
"""

from __future__ import annotations

import json
import re
import socket
import uuid
from collections.abc import AsyncIterator

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, Response, StreamingResponse
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool

from workers.sink import chcompress
from workers.sink.accounts import Accounts, credentials
from workers.sink.analyst import AnalystQuery
from workers.sink.chformats import DEFAULT_FORMAT, content_type
from workers.sink.chsettings import Ceilings, SettingRefused, session_settings
from workers.sink.statements import QueryFailed

MAX_BODY = 64 << 20
_DB = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# ClickHouse's HTTP status for an exception code (src/Server/HTTP/exceptionCodeToHTTPStatus.cpp);
# 500 otherwise (READONLY among them). Refused logins are 401 here, with a Basic challenge.
_STATUS = {
    400: {6, 8, 15, 25, 26, 27, 36, 37, 38, 41, 44, 53, 62, 72, 117, 123, 167, 168, 223, 321, 376, 427, 441, 675, 676},
    401: {194, 516},
    403: {192, 193, 497, 512},
    404: {46, 47, 50, 56, 60, 63, 73, 78, 81, 115, 152, 336, 511},
    408: {159},
    413: {229},
    415: {779},
    501: {48},
    503: {76, 202, 209, 439},
}
STATUS = {code: status for status, codes in _STATUS.items() for code in codes}


def error(exc: QueryFailed, query_id: str, display: str) -> Response:
    status = STATUS.get(exc.code, 500)
    headers = {"X-ClickHouse-Exception-Code": str(exc.code), "X-ClickHouse-Query-Id": query_id,
               "X-ClickHouse-Server-Display-Name": display}  # fmt: skip
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="ClickHouse", charset="UTF-8"'
    return PlainTextResponse(exc.text + "\n", status_code=status, headers=headers)


async def _query_text(request: Request, params: dict[str, str]) -> str:
    body = b""
    if request.method == "POST":
        if request.headers.get("content-type", "").startswith("multipart/"):
            raise QueryFailed.of(48, "External tables (multipart bodies) are not supported here", "NOT_IMPLEMENTED")
        chunks, size = [], 0
        async for chunk in request.stream():  # chunked bodies too: never more than MAX_BODY in memory
            size += len(chunk)
            if size > MAX_BODY:
                raise QueryFailed.of(229, f"Request body is larger than {MAX_BODY} bytes", "QUERY_IS_TOO_LARGE")
            chunks.append(chunk)
        body = b"".join(chunks)
        try:
            body = chcompress.decode_body(body, request.headers.get("content-encoding"))
            if params.get("decompress") == "1":
                body = chcompress.read_native_blocks(body)
        except chcompress.BadEncoding as exc:
            raise QueryFailed.of(271, str(exc), "CANNOT_DECOMPRESS") from None
    text = body.decode("utf-8", errors="replace")
    head = params.get("query", "")
    return f"{head}\n{text}" if head and text else head or text


def mount(app: FastAPI, analysts, accounts: Accounts, ceilings: Ceilings, database: str) -> None:
    """Adds /ping and / to the sink's API. ``analysts`` runs the queries (analyst.py)."""
    display = socket.gethostname()

    @app.get("/ping", include_in_schema=False)
    def ping() -> Response:
        return PlainTextResponse("Ok.\n")

    @app.api_route("/", methods=["GET", "POST"], include_in_schema=False)
    async def clickhouse(request: Request) -> Response:
        params = dict(request.query_params)
        query_id = params.get("query_id") or request.headers.get("x-clickhouse-query-id") or str(uuid.uuid4())
        try:
            if request.method == "GET" and not params.get("query"):
                return PlainTextResponse("Ok.\n")
            user = _login(accounts, request, params)  # before the body is read
            sql = await _query_text(request, params)
            q = _analyst_query(request, params, sql, user, ceilings, database)
            answer = await run_in_threadpool(analysts.run, q)
        except QueryFailed as exc:
            return error(exc, query_id, display)
        headers = {
            "X-ClickHouse-Query-Id": query_id,
            "X-ClickHouse-Format": answer.format,
            "X-ClickHouse-Timezone": answer.timezone,
            "X-ClickHouse-Server-Display-Name": display,
            "X-ClickHouse-Summary": json.dumps(answer.summary, separators=(",", ":")),
        }
        body = answer.chunks
        if params.get("compress") == "1":
            body = chcompress.native_blocks(body)
        elif params.get("enable_http_compression", "1") != "0" and (
            enc := chcompress.choose_encoding(request.headers.get("accept-encoding"))
        ):
            level = params.get("http_zlib_compression_level", "3")
            body = chcompress.encode_stream(body, enc, max(1, min(int(level) if level.isdigit() else 3, 9)))
            headers["Content-Encoding"] = enc
        return StreamingResponse(_closing(body, answer), headers=headers, media_type=content_type(answer.format))


async def _closing(body, answer) -> AsyncIterator[bytes]:
    """The answer's bytes, read in the thread pool; its session closes however the response ends
    (done, failed, or the client gone: the query is cancelled and its slot freed)."""
    try:
        async for chunk in iterate_in_threadpool(body):
            yield chunk
    finally:
        answer.close()


def _login(accounts: Accounts, request: Request, params: dict[str, str]) -> str:
    creds = credentials(request.headers, params)
    if creds is None:
        raise QueryFailed.of(
            194, "Password required: send a Ladle analyst account's user and password (Basic auth, or the "
            "X-ClickHouse-User and X-ClickHouse-Key headers)", "REQUIRED_PASSWORD",
        )  # fmt: skip
    if not accounts.check(*creds):
        raise QueryFailed.of(
            516, f"{creds[0]}: Authentication failed: password is incorrect, or there is no user with such name",
            "AUTHENTICATION_FAILED",
        )  # fmt: skip
    return creds[0]


def _analyst_query(
    request: Request, params: dict[str, str], sql: str, user: str, ceilings: Ceilings, database: str
) -> AnalystQuery:
    db = request.headers.get("x-clickhouse-database") or params.get("database") or database
    if not _DB.match(db):
        raise QueryFailed.of(81, f"Database {db} does not exist", "UNKNOWN_DATABASE")
    try:
        settings, restated = session_settings(params, ceilings)
    except SettingRefused as exc:
        raise QueryFailed.of(exc.code, str(exc), "READONLY" if exc.code == 164 else "CANNOT_PARSE_NUMBER") from None
    return AnalystQuery(
        sql=sql,
        user=user,
        database=db,
        default_format=request.headers.get("x-clickhouse-format") or params.get("default_format") or DEFAULT_FORMAT,
        settings=settings,
        restated=restated,
        params={k[6:]: v for k, v in params.items() if k.startswith("param_")},
        stream=params.get("wait_end_of_query") != "1",
    )
