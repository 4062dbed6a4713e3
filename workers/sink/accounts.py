"""Analyst accounts of the sink's interfaces (shared/accounts.py loads the users file, the console
signs in with the same accounts), and how a request presents its credentials.

Every account is read-only by construction: every query runs in its own readonly=1 session
whoever asks. Credentials come as Basic auth, as ClickHouse's X-ClickHouse-User /
X-ClickHouse-Key headers, or as the user and password URL parameters, like a ClickHouse
server takes them.
"""

from __future__ import annotations

import base64
import binascii

from shared.accounts import Accounts, account_line

__all__ = ["Accounts", "account_line", "credentials"]


def credentials(headers, params) -> tuple[str, str] | None:
    """(user, password) from a request's headers (any mapping) and URL parameters; None when it sent none."""
    auth = headers.get("authorization") or ""
    if auth[:6].lower() == "basic ":
        try:
            user, _, password = base64.b64decode(auth[6:].strip()).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return ("", "")
        return user, password
    if headers.get("x-clickhouse-user") is not None:
        return headers["x-clickhouse-user"], headers.get("x-clickhouse-key") or ""
    if params.get("user") is not None:
        return params["user"], params.get("password") or ""
    return None
