"""PEFT adapter / merged model -> GGUF for llama.cpp, with llama.cpp's own converters.

llama-cpp-python's sdist vendors llama.cpp with ``convert_lora_to_gguf.py`` and
``convert_hf_to_gguf.py`` (and the gguf-py they import); `make setup` fetches the sdist of the
installed version into .cache/llama-cpp-sdist (`make finetune-deps`).
"""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

from shared.runtime.errors import UserError
from shared.settings import REPO_ROOT

SDIST = REPO_ROOT / ".cache" / "llama-cpp-sdist"


def converters() -> Path:
    """vendor/llama.cpp of the installed llama-cpp-python's sdist."""
    version = importlib.metadata.version("llama-cpp-python")
    folder = SDIST / f"llama_cpp_python-{version}" / "vendor" / "llama.cpp"
    if not (folder / "convert_lora_to_gguf.py").is_file():
        raise UserError(f"llama.cpp's GGUF converters are not in {folder}; run `make finetune-deps` (it fetches "
                        f"llama-cpp-python {version}'s sdist)")  # fmt: skip
    return folder


def _run(argv: list[str], what: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "NO_LOCAL_GGUF"}  # the vendored gguf-py matches the scripts
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        tail = " ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])[:400]
        raise UserError(f"{what} failed: {tail}")


def adapter_to_gguf(adapter_dir: Path, base_dir: Path, out: Path) -> Path:
    """A PEFT LoRA folder -> a llama.cpp LoRA adapter GGUF (f16)."""
    script = converters() / "convert_lora_to_gguf.py"
    _run([sys.executable, str(script), "--outfile", str(out), "--outtype", "f16", "--base", str(base_dir),
          str(adapter_dir)], "convert_lora_to_gguf")  # fmt: skip
    return out


def model_to_gguf(model_dir: Path, out: Path, outtype: str = "q8_0") -> Path:
    """A Hugging Face model folder -> GGUF. q8_0 keeps a fine-tune's gain (Q4 quantization lost it)."""
    script = converters() / "convert_hf_to_gguf.py"
    _run([sys.executable, str(script), "--outfile", str(out), "--outtype", outtype, str(model_dir)],
         "convert_hf_to_gguf")  # fmt: skip
    return out
