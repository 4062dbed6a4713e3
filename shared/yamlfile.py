"""Reading a configuration file (YAML) with one-line errors that name the file."""

from __future__ import annotations

from pathlib import Path

import yaml

from shared.runtime.errors import UserError


def read_mapping(path: Path, what: str) -> dict:
    """The mapping a YAML file holds; ``what`` names the file in errors ("policy file ...")."""
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise UserError(f"{what} file {path} not found") from None
    except yaml.YAMLError as exc:
        raise UserError(f"{what} file {path} is not valid YAML: {' '.join(str(exc).split())[:200]}") from None
    if not isinstance(data, dict):
        raise UserError(f"{what} file {path} must hold a mapping")
    return data
