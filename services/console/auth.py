"""Sessions in a signed cookie (HMAC-SHA256, no server state) and a CSRF token per session.

A session cookie holds the user, a random CSRF token and an expiry, signed with the console's
secret; every form carries the token and every POST must send it back (form field ``csrf`` or
header ``X-CSRF-Token``). The sign-in form, before any session exists, uses the same check
against a token in a short-lived cookie of its own (double submit).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

SESSION_COOKIE = "ladle_console"
LOGIN_COOKIE = "ladle_console_login"


@dataclass(frozen=True)
class Session:
    user: str
    csrf: str
    expires: float


class Signer:
    def __init__(self, secret: str | bytes, max_age_s: float) -> None:
        self.key = secret.encode() if isinstance(secret, str) else secret
        self.max_age_s = max_age_s

    def _mac(self, body: bytes) -> str:
        return base64.urlsafe_b64encode(hmac.new(self.key, body, hashlib.sha256).digest()).decode().rstrip("=")

    def sign(self, data: dict) -> str:
        body = base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")
        return f"{body}.{self._mac(body.encode())}"

    def unsign(self, value: str | None) -> dict | None:
        """The signed data, or None when the value is missing, tampered with or malformed."""
        if not value or "." not in value:
            return None
        body, _, mac = value.rpartition(".")
        if not hmac.compare_digest(mac, self._mac(body.encode())):
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    def issue(self, user: str, now: float | None = None) -> tuple[str, Session]:
        s = Session(user, secrets.token_urlsafe(24), (now or time.time()) + self.max_age_s)
        return self.sign({"u": s.user, "c": s.csrf, "e": s.expires}), s

    def session(self, cookie: str | None, now: float | None = None) -> Session | None:
        data = self.unsign(cookie)
        if data is None:
            return None
        try:
            s = Session(str(data["u"]), str(data["c"]), float(data["e"]))
        except (KeyError, TypeError, ValueError):
            return None
        return s if s.expires > (now or time.time()) else None


def same_token(expected: str | None, sent: str | None) -> bool:
    return bool(expected) and bool(sent) and hmac.compare_digest(str(expected), str(sent))


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path on this site only (no //host, no scheme)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target
