"""Analyst accounts: names and sha256 password hashes from a users file (deploy/sink/users.yaml).

One loader for every login that takes these accounts: the sink's SQL interfaces (read-only by
construction: the file has no roles or grants to give) and the console's sign-in page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from shared.keyhash import matches, sha256_hex
from shared.runtime.errors import UserError
from shared.yamlfile import read_mapping

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")
SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Accounts:
    hashes: dict[str, str]  # name -> sha256 hex of the password

    @classmethod
    def load(cls, path: Path) -> Accounts:
        data = read_mapping(path, "users")
        hashes: dict[str, str] = {}
        for i, entry in enumerate(data.get("users") or [], start=1):
            name = str(entry.get("name", "")) if isinstance(entry, dict) else ""
            digest = str(entry.get("password_sha256", "")).lower() if isinstance(entry, dict) else ""
            if not NAME.match(name) or not SHA256.match(digest):
                raise UserError(f"users file {path}: entry {i} needs a name and a 64-hex password_sha256 "
                                "(make one with `ladle db users add NAME`)")  # fmt: skip
            hashes[name] = digest
        return cls(hashes)

    def check(self, user: str, password: str) -> bool:
        stored = self.hashes.get(user)
        return stored is not None and matches(password, stored)


def account_line(name: str, password: str) -> str:
    """The users-file line for an account (what `ladle db users add` prints)."""
    if not NAME.match(name):
        raise UserError(f"bad account name {name!r}: letters, digits, _ . - (starting with a letter or _)")
    return f"  - {{name: {name}, password_sha256: {sha256_hex(password)}}}"
