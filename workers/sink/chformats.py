"""Output formats of the ClickHouse HTTP interface: which one a query asked for, its Content-Type,
and whether its bytes can be sent block by block.

chDB writes every ClickHouse format itself; this module only names them. A format with a
header or a footer (JSON, *WithNames, Parquet, Arrow, Native's column header on an empty
result) is answered whole; the row-per-line and header-less binary ones stream.
"""

from __future__ import annotations

import re

DEFAULT_FORMAT = "TabSeparated"

# Block by block, each chunk is a valid continuation of the one before.
STREAMABLE = frozenset({
    "TabSeparated", "TSV", "TabSeparatedRaw", "TSVRaw", "CSV", "RowBinary", "JSONEachRow", "JSONLines", "NDJSON",
    "JSONCompactEachRow", "JSONStringsEachRow", "JSONCompactStringsEachRow", "LineAsString",
})  # fmt: skip

_TYPES = [
    (re.compile(r"^(TabSeparated|TSV)"), "text/tab-separated-values; charset=UTF-8"),
    (re.compile(r"^CSVWith"), "text/csv; charset=UTF-8; header=present"),
    (re.compile(r"^CSV"), "text/csv; charset=UTF-8; header=absent"),
    (re.compile(r"^(JSON|NDJSON)"), "application/json; charset=UTF-8"),
    (re.compile(r"^XML"), "application/xml; charset=UTF-8"),
    (re.compile(r"^(Parquet|Arrow|ORC|Avro|Native|RowBinary|MsgPack|Protobuf|CapnProto|BSON|Npy)"),
     "application/octet-stream"),
]  # fmt: skip

_LITERALS = re.compile(r"'(?:[^'\\]|\\.)*'|`(?:[^`\\]|\\.)*`|\"(?:[^\"\\]|\\.)*\"")
_FORMAT_CLAUSE = re.compile(r" FORMAT (\w+)(?: SETTINGS .*)?$")


def content_type(fmt: str) -> str:
    for pattern, ctype in _TYPES:
        if pattern.match(fmt):
            return ctype
    return "text/plain; charset=UTF-8"


def without_literals(normalized: str) -> str:
    """ClickHouse's one-line form of a statement with its quoted strings and identifiers blanked,
    so a keyword search cannot match text inside them."""
    return _LITERALS.sub("''", normalized)


def format_clause(normalized: str) -> str | None:
    """The FORMAT the statement names itself (it wins over default_format), from the one-line form
    ClickHouse's parser printed (keywords upper case; FORMAT last, or just before SETTINGS)."""
    m = _FORMAT_CLAUSE.search(without_literals(normalized))
    return m.group(1) if m else None
