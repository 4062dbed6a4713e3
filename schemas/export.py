"""JSON Schema files for producers in other languages (`ladle schemas export`)."""

from __future__ import annotations

import json
from pathlib import Path

from schemas import EVENT_MODELS

JSON_DIR = Path(__file__).parent / "json"


def render() -> dict[str, str]:
    """File name -> JSON text, one file per event model."""
    out = {}
    for name, model in sorted(EVENT_MODELS.items()):
        schema = model.model_json_schema(mode="serialization")
        schema["$id"] = f"https://ladle.dev/schemas/{name}.v{model.SCHEMA_VERSION}.json"
        schema["x-schema-version"] = model.SCHEMA_VERSION
        out[f"{name}.json"] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    return out


def stale_files(directory: Path = JSON_DIR) -> list[str]:
    """Names of files that are missing or differ from what the models say."""
    return [n for n, text in render().items() if not (directory / n).exists() or (directory / n).read_text() != text]


def export(directory: Path = JSON_DIR) -> list[str]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render().items():
        path = directory / name
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            written.append(name)
    return written
