"""Secrets are kept as sha256 hex only: analyst passwords (the sink's users file) and the
gateway's team keys (its config file). The gateway's file is read here as plain YAML, so a
worker can accept the gateway's keys without importing the gateway."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

from shared.runtime.errors import UserError
from shared.yamlfile import read_mapping


def sha256_hex(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def matches(secret: str, stored_sha256: str) -> bool:
    return hmac.compare_digest(sha256_hex(secret), stored_sha256.lower())


def team_key_hashes(gateway_config: Path) -> dict[str, str]:
    """sha256 of each team key in the gateway's config file -> the team's name."""
    data = read_mapping(gateway_config, "gateway config")
    out: dict[str, str] = {}
    for team in data.get("teams") or []:
        if not isinstance(team, dict) or not isinstance(team.get("key_sha256"), list):
            raise UserError(f"gateway config file {gateway_config}: each team needs a name and a key_sha256 list")
        for h in team["key_sha256"]:
            out[str(h).lower()] = str(team.get("name", ""))
    return out
