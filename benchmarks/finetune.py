"""Fine-tuning on this machine: training tokens/s and wall time for N examples (food-group-train in
the use case's own prompt, repeated to N), then serving tokens/s with the adapter against the base
model in the same run: llama.cpp with the base GGUF, the base with the unmerged adapter
(``lora_path``), and the merged q8_0 model, each on the same golden prompts.

Goal (docs/finetune.md): serving with the fine-tuned model at least 0.9x the base model's tokens/s.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from benchmarks.common import figure
from shared.settings import LadleSettings


def run(ladle: LadleSettings, examples: int = 200, items: int = 20, use_case: str = "food-group",
        console=None) -> Iterator[dict]:  # fmt: skip
    from ladle.eval import datasets
    from ladle.finetune import convert
    from ladle.finetune.create import Options, base_gguf, examples_for
    from ladle.finetune.train import BASE_CACHE, Hyper, prepare_base, save_merged, train
    from shared.finetune.registry import ADAPTER, MERGED
    from workers.enricher.engines import make_engine
    from workers.enricher.engines.base import EngineRequest
    from workers.enricher.settings import EnricherSettings

    def say(s: str) -> None:
        if console is not None:
            console.print(s, highlight=False)

    settings = EnricherSettings()
    opts = Options(use_case, [f"{use_case}-train"])
    path, _, rows = examples_for(opts, ladle, settings, say)
    uc, taxonomy = path.use_case, path.taxonomy
    rows = [rows[i % len(rows)] for i in range(examples)]
    gguf = base_gguf(opts, uc)
    root = Path(ladle.data_dir) / "finetune"
    root.mkdir(parents=True, exist_ok=True)
    base_dir = prepare_base(gguf, BASE_CACHE, say)
    work = Path(tempfile.mkdtemp(prefix="bench-", dir=root))
    try:
        hp = Hyper(epochs=1)
        t0 = time.perf_counter()
        trained = train(base_dir, rows, [], work / "peft", hp, threads=1,
                        progress=lambda p: say(f"step {p.step}/{p.steps} {p.tokens_per_s:.0f} tokens/s"))  # fmt: skip
        wall = time.perf_counter() - t0
        convert.adapter_to_gguf(work / "peft", base_dir, work / ADAPTER)
        convert.model_to_gguf(save_merged(trained, base_dir, work / "merged"), work / MERGED)
        ds = datasets.load(use_case, taxonomy, items)
        requests = [EngineRequest(id=f"r{i}", messages=j.messages, json_schema=path.tagger.schema,
                                  max_tokens=uc.max_tokens, temperature=0.0)
                    for i, j in enumerate(path.tagger.job(r.change()) for r in ds.rows)]  # fmt: skip
        sides = {"base": {}, "adapter": {"llama_kwargs": {"lora_path": str(work / ADAPTER)}},
                 "merged": {"model_path": str(work / MERGED)}}  # fmt: skip
        speed = {}
        for side, extra in sides.items():
            spec = uc.engine_spec()
            spec.params.update(extra)
            engine = make_engine(spec)
            try:
                asyncio.run(engine.generate(requests[:1]))  # warm
                t = time.perf_counter()
                out = asyncio.run(engine.generate(requests))
                seconds = time.perf_counter() - t
            finally:
                engine.close()
            tokens = sum(r.input_tokens + r.output_tokens for r in out)
            speed[side] = (tokens / seconds, len(out) / seconds)
            say(f"{side}: {speed[side][0]:.0f} tokens/s, {speed[side][1]:.2f} items/s")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    common = {"use_case": use_case, "data": f"{use_case}-train repeated to {examples} examples",
              "serving_data": f"{use_case} golden, first {len(ds.rows)} rows", "machine": "this machine's CPU, 1 thread"}  # fmt: skip
    yield figure("finetune", "train_tokens_per_s", trained.tokens_per_s, trained.tokens_per_s, "tokens/s",
                 wall_s=round(wall, 1), examples=examples, steps=trained.steps, tokens=trained.tokens, **common)  # fmt: skip
    for side in ("adapter", "merged"):
        yield figure("finetune", f"serving_tokens_per_s_{side}", speed[side][0], speed["base"][0], "tokens/s",
                     baseline_is="the base GGUF, same prompts, same run", goal_ratio=0.9, **common)  # fmt: skip
