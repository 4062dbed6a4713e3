"""What readonly=1 does not refuse, refused before an analyst's statement runs.

ClickHouse's own parser reads the statement (``formatQuerySingleLine``), so comments,
case and spacing cannot hide anything from these checks:

- more than one statement: chDB, like clickhouse-local, would run every one of them; a
  ClickHouse server's HTTP interface refuses that, and so does this one;
- KILL: readonly mode allows it, and in the one embedded engine every session is the same
  user, so an analyst could cancel the sink's own inserts;
- INTO OUTFILE: chDB writes the file on the sink's machine even in readonly mode (a server
  refuses it over HTTP).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from workers.sink.chformats import without_literals

_CODE = re.compile(r"Code: (\d+)\.")
_OUTFILE = re.compile(r"\bINTO OUTFILE\b")


class QueryFailed(Exception):
    """A refusal or an error with ClickHouse's code and text ("Code: 62. DB::Exception: ...")."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(text)
        self.code, self.text = code, text

    @classmethod
    def of(cls, code: int, message: str, name: str) -> QueryFailed:
        return cls(code, f"Code: {code}. DB::Exception: {message}. ({name})")

    @classmethod
    def from_engine(cls, exc: BaseException, user: str | None = None) -> QueryFailed:
        """chDB's exception text from its "Code: N." on (chDB may put its own words before it), naming
        the analyst where chDB names its one user."""
        text = str(exc).strip()
        if user:
            text = text.replace("DB::Exception: default: ", f"DB::Exception: {user}: ")
        m = _CODE.search(text)
        return cls(int(m.group(1)), text[m.start() :]) if m else cls(1001, f"Code: 1001. DB::Exception: {text}")


def escape_literal(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def normalize(scalar: Callable[[str], str], sql: str) -> str | None:
    """The statement as ClickHouse's parser prints it on one line; None when it does not parse
    (the statement itself then runs, to fail with its own error and position). ``scalar`` runs
    a one-value query; the answer comes hex-encoded, so no output format's escaping can blur
    where a quoted string ends."""
    if not sql.strip():
        raise QueryFailed.of(62, "Empty query", "SYNTAX_ERROR")
    try:
        answer = scalar(f"SELECT hex(formatQuerySingleLine({escape_literal(sql)}))")
    except Exception as exc:  # noqa: BLE001 - the engine's own exception types
        text = " ".join(str(exc).split())
        if "Multi-statements are not allowed" not in text:
            return None
        detail = text[text.find("Syntax error") :].split(". : In scope")[0].split(" In scope ")[0]
        raise QueryFailed.of(62, detail.rstrip("."), "SYNTAX_ERROR") from None
    return bytes.fromhex(answer.strip()).decode("utf-8", errors="replace").strip()


def check(normalized: str | None, user: str) -> None:
    if normalized is None:
        return
    bare = without_literals(normalized)
    if bare.startswith("KILL "):
        raise QueryFailed.of(
            497, f"{user}: Not enough privileges. To execute this query, it's necessary to have the grant KILL QUERY "
            "ON *.*", "ACCESS_DENIED",
        )  # fmt: skip
    if _OUTFILE.search(bare):
        raise QueryFailed.of(358, "INTO OUTFILE is not allowed", "INTO_OUTFILE_NOT_ALLOWED")
