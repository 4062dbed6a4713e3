"""Fine-tuning's pure parts: chat-format JSONL checks (a bad line is named), the validation split,
the adapter registry's choice of files, and the vLLM engine's LoRA configuration (vLLM itself needs a
GPU node; what it is handed is checked here)."""

from __future__ import annotations

import json

import pytest

from ladle.finetune import data
from shared.finetune.files import parse_jsonl
from shared.finetune.registry import AdapterCard, AdapterRegistry
from shared.runtime.errors import UserError

GOOD = {"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "u"},
                     {"role": "assistant", "content": "{\"food_group\": \"Baby Foods\"}"}]}  # fmt: skip


def test_chat_jsonl_is_read_and_each_bad_line_is_named():
    lines = [json.dumps(GOOD), "", "{not json", json.dumps({"messages": []}),
             json.dumps({"messages": [{"role": "user", "content": "u"}]}),
             json.dumps({"messages": [{"role": "tool", "content": "u"}, {"role": "assistant", "content": "a"}]}),
             json.dumps({"messages": [{"role": "user", "content": 3}, {"role": "assistant", "content": "a"}]}),
             json.dumps({"messages": [{"role": "system", "content": "s"}, {"role": "assistant", "content": "a"}]})]  # fmt: skip
    rows, bad = parse_jsonl("\n".join(lines).encode())
    assert rows == [GOOD]
    assert [str(b) for b in bad] == [
        "line 3: not JSON (Expecting property name enclosed in double quotes at column 2)",
        "line 4: needs a non-empty `messages` list",
        "line 5: the last message must be the assistant's answer",
        "line 6: message 0: role must be system, user or assistant",
        "line 7: message 0: content must be a string",
        "line 8: no user message",
    ]


def test_validation_split_is_seeded_and_keeps_a_training_row():
    rows = [{"messages": [{"role": "user", "content": str(i)}]} for i in range(20)]
    train, val = data.split(rows, 0.1)
    assert (len(train), len(val)) == (18, 2) and data.split(rows, 0.1) == (train, val)
    assert sorted(train + val, key=lambda r: int(r["messages"][0]["content"])) == rows
    assert [len(p) for p in data.split(rows[:1], 0.5)] == [1, 0]
    assert [len(p) for p in data.split(rows[:2], 0.1)] == [1, 1]
    with pytest.raises(UserError, match="no training examples"):
        data.split([], 0.1)


def _version(root, name: str, version: int, files: dict[str, bytes]) -> None:
    folder = root / name / f"v{version}"
    folder.mkdir(parents=True)
    card = AdapterCard(name=name, version=version, use_case="food-group", task="food-group", base_model="m",
                       base_gguf="b.gguf", base_sha256="0" * 64, prompt="food-group@1", taxonomy_version="t",
                       examples=1, validation_examples=0)  # fmt: skip
    (folder / "card.json").write_text(card.model_dump_json())
    for f, body in files.items():
        (folder / f).write_bytes(body)


def test_registry_serves_the_merged_model_made_here_else_the_adapter(tmp_path):
    shipped, data_dir = tmp_path / "deploy", tmp_path / "data"
    _version(shipped, "fg", 1, {"adapter.gguf": b"GGUF"})
    reg = AdapterRegistry(data_dir, shipped)
    s = reg.serving("fg@1")
    assert (s.ref, s.model_path, s.lora_path) == ("fg@1", None, str(shipped / "fg" / "v1" / "adapter.gguf"))
    merged = data_dir / "finetune" / "fg" / "v1" / "merged.gguf"  # made here for a shipped version
    merged.parent.mkdir(parents=True)
    merged.write_bytes(b"GGUF")
    assert reg.serving("fg@1").model_path == str(merged)
    assert reg.serving("fg@1", merged=False).lora_path == str(shipped / "fg" / "v1" / "adapter.gguf")
    assert reg.versions("fg").keys() == {1} and reg.next_version("fg")[0] == 2
    with pytest.raises(UserError, match="no adapter 'nope'; known: fg \\(`ladle finetune create` makes one\\)"):
        reg.serving("nope@1")
    with pytest.raises(UserError, match="has no PEFT folder"):
        reg.peft_dir("fg@1")


def test_vllm_engine_gets_a_registry_adapter_as_a_lora_module(tmp_path, monkeypatch):
    from workers.enricher.engines.vllm import lora_adapters

    _version(tmp_path / "data" / "finetune", "fg", 2, {"adapter.gguf": b"GGUF"})
    peft = tmp_path / "data" / "finetune" / "fg" / "v2" / "peft"
    peft.mkdir()
    (peft / "adapter_config.json").write_text("{}")
    monkeypatch.setenv("LADLE_DATA_DIR", str(tmp_path / "data"))
    assert lora_adapters({"lora": "fg@2"}) == {"fg@2": str(peft)}
    assert lora_adapters({"lora_adapters": {"x": "/m/x"}, "lora": "x"}) == {"x": "/m/x"}
    assert lora_adapters({}) == {}
