"""LoRA training with PEFT on the use case's own GGUF model, on CPU (one code path; on GPU nodes the
same loop runs where torch sees a device).

The base: transformers reads the GGUF that the use case serves and dequantizes it to fp32; the
quantization marker is dropped and the model re-saved once (cached by the GGUF's hash), with the
tokenizer's end of turn (``<|im_end|>``) as eos and pad, so PEFT trains it and llama.cpp's
converters read it. The loss counts the answer only (the prompt is context), as the engine only
ever generates the answer.
"""

from __future__ import annotations

import hashlib
import math
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ladle.finetune.data import Example
from shared.finetune.jobs import Cancelled
from shared.runtime.errors import UserError
from shared.settings import REPO_ROOT

END_OF_TURN = "<|im_end|>"
# Dequantized bases, keyed by their GGUF's hash: derived from installed files, like the rest of .cache.
BASE_CACHE = REPO_ROOT / ".cache" / "finetune-base"
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


@dataclass
class Hyper:
    epochs: int = 3
    learning_rate: float = 2e-4
    rank: int = 16
    alpha: int | None = None  # default 2 x rank
    dropout: float = 0.05
    batch_size: int = 8
    max_steps: int | None = None  # overrides epochs
    max_length: int = 1024
    seed: int = 0
    layers: int | None = None  # LoRA on the top N layers only (backward stops below them); None: all

    def as_dict(self) -> dict:
        return {"epochs": self.epochs, "learning_rate": self.learning_rate, "rank": self.rank,
                "alpha": self.alpha or 2 * self.rank, "dropout": self.dropout, "batch_size": self.batch_size,
                "max_steps": self.max_steps, "max_length": self.max_length, "seed": self.seed,
                "layers": self.layers, "target_modules": TARGETS, "optimizer": "adamw",
                "schedule": "linear warm-up 10%, linear decay"}  # fmt: skip


@dataclass
class Progress:
    step: int
    steps: int
    loss: float
    tokens: int  # trained so far (prompt and answer, no padding)
    tokens_per_s: float
    elapsed_s: float
    eta_s: float


@dataclass
class Trained:
    adapter_dir: Path
    steps: int
    tokens: int
    seconds: float
    final_loss: float
    validation_before: dict = field(default_factory=dict)
    validation_after: dict = field(default_factory=dict)
    model: object = None  # the PEFT model, for merging

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds if self.seconds else 0.0


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def prepare_base(gguf: Path, cache: Path, say: Callable[[str], None] = lambda _s: None) -> Path:
    """The GGUF as a Hugging Face folder PEFT trains (fp32, no quantization marker, eos/pad fixed)."""
    out = cache / f"{gguf.stem}-{sha256_file(gguf)[:12]}"
    if (out / "config.json").is_file():
        return out
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    say(f"dequantizing {gguf.name} to a trainable fp32 model (once)")
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, torch_dtype=torch.float32)
    # The weights are dequantized already; the GGUF marker only stops save_pretrained and PEFT.
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    for attr in ("hf_quantizer", "quantization_method"):
        if getattr(model, attr, None) is not None:
            setattr(model, attr, None)
    model.is_quantized = False
    fix_tokens(tok, model)
    tmp = out.with_name(out.name + f".tmp{os.getpid()}")
    model.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    try:
        tmp.rename(out)
    except OSError:  # another process made it meanwhile
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return out


def fix_tokens(tok, model) -> None:
    """End of turn is eos (generation stops there) and pad (batches pad with it; masked anyway)."""
    if END_OF_TURN in tok.get_vocab():
        tok.eos_token = END_OF_TURN
    tok.pad_token = tok.eos_token
    model.config.eos_token_id = tok.eos_token_id
    model.config.pad_token_id = tok.pad_token_id
    if getattr(model, "generation_config", None) is not None:
        model.generation_config.eos_token_id = tok.eos_token_id
        model.generation_config.pad_token_id = tok.pad_token_id


def encode(tok, ex: Example, max_length: int) -> tuple[list[int], list[int]]:
    """(input ids, labels): the chat template's prompt (as llama.cpp renders it) then the answer and
    end of turn; labels are -100 over the prompt."""
    prompt = tok.apply_chat_template(ex["messages"][:-1], add_generation_prompt=True, tokenize=False)
    p = tok(prompt, add_special_tokens=False)["input_ids"]
    a = tok(ex["messages"][-1]["content"] + tok.eos_token, add_special_tokens=False)["input_ids"]
    ids = (p + a)[-max_length:]
    labels = ([-100] * len(p) + a)[-max_length:]
    return ids, labels


def _batch(torch, rows: list[tuple[list[int], list[int]]], pad: int):
    """Right-padded ids, labels (-100 but on answers) and mask, and the columns whose logits the loss
    needs (the answers' span, shifted by one): the vocabulary projection of every prompt position
    would be most of the work for nothing."""
    width = max(len(ids) for ids, _ in rows)
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    labels = torch.full((len(rows), width), -100, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, (x, y) in enumerate(rows):
        ids[i, : len(x)] = torch.tensor(x)
        labels[i, : len(y)] = torch.tensor(y)
        mask[i, : len(x)] = 1
    answered = (labels != -100).any(0).nonzero().flatten()
    keep = torch.arange(max(int(answered.min()) - 1, 0), int(answered.max()))  # position t predicts t + 1
    return ids, labels, mask, keep


def answer_loss(torch, model, ids, labels, mask, keep, reduction: str = "mean"):
    """Cross-entropy over the answer tokens only; also the logits and targets it used."""
    logits = model(input_ids=ids, attention_mask=mask, logits_to_keep=keep).logits
    target = labels[:, keep + 1]
    loss = torch.nn.functional.cross_entropy(logits.transpose(1, 2), target, ignore_index=-100, reduction=reduction)
    return loss, logits, target


def validate(torch, model, rows, pad: int, batch_size: int) -> dict:
    """Mean answer loss and teacher-forced exact match (every answer token the argmax)."""
    if not rows:
        return {}
    model.eval()
    losses, exact = [], 0
    with torch.no_grad():
        for start in range(0, len(rows), batch_size):
            loss, logits, target = answer_loss(torch, model, *_batch(torch, rows[start : start + batch_size], pad),
                                               reduction="none")  # fmt: skip
            counted = target != -100
            losses.extend((loss.sum(1) / counted.sum(1).clamp(min=1)).tolist())
            right = (logits.argmax(-1) == target) | ~counted
            exact += int(right.all(1).sum())
    model.train()
    return {"loss": round(sum(losses) / len(losses), 4), "exact_match": round(exact / len(rows), 4), "n": len(rows)}


def train(
    base_dir: Path, train_rows: list[Example], val_rows: list[Example], out_dir: Path, hp: Hyper, *,
    progress: Callable[[Progress], None] = lambda _p: None, cancelled: Callable[[], bool] = lambda: False,
    threads: int | None = None,
) -> Trained:  # fmt: skip
    """Train a LoRA adapter; the PEFT folder is written to ``out_dir``."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if not train_rows:
        raise UserError("no training examples")
    torch.manual_seed(hp.seed)
    if threads:
        torch.set_num_threads(threads)
    tok = AutoTokenizer.from_pretrained(base_dir)
    model = AutoModelForCausalLM.from_pretrained(base_dir, torch_dtype=torch.float32)
    fix_tokens(tok, model)
    n = model.config.num_hidden_layers
    top = list(range(n - hp.layers, n)) if hp.layers and hp.layers < n else None
    model = get_peft_model(model, LoraConfig(r=hp.rank, lora_alpha=hp.alpha or 2 * hp.rank, lora_dropout=hp.dropout,
                                             target_modules=TARGETS, layers_to_transform=top, task_type="CAUSAL_LM"))  # fmt: skip
    pad = tok.pad_token_id
    enc = [encode(tok, ex, hp.max_length) for ex in train_rows]
    val = [encode(tok, ex, hp.max_length) for ex in val_rows]
    per_epoch = math.ceil(len(enc) / hp.batch_size)
    steps = hp.max_steps or per_epoch * hp.epochs
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=hp.learning_rate)
    warmup = max(1, steps // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warmup, max(0.0, (steps - s) / max(1, steps - warmup)))
    )
    before = validate(torch, model, val, pad, hp.batch_size)
    rng = random.Random(hp.seed)
    order: list[int] = []
    tokens, loss_value, t0 = 0, float("nan"), time.perf_counter()
    model.train()
    for step in range(1, steps + 1):
        if cancelled():
            raise Cancelled(f"cancelled at step {step - 1} of {steps}")
        if len(order) < hp.batch_size:
            more = list(range(len(enc)))
            rng.shuffle(more)
            order += more
        picked, order = order[: hp.batch_size], order[hp.batch_size :]
        rows = [enc[i] for i in picked]
        loss = answer_loss(torch, model, *_batch(torch, rows, pad))[0]
        loss.backward()
        opt.step()
        sched.step()
        opt.zero_grad()
        loss_value = float(loss.detach())
        tokens += sum(len(x) for x, _ in rows)
        elapsed = time.perf_counter() - t0
        progress(Progress(step, steps, loss_value, tokens, tokens / elapsed, elapsed, elapsed / step * (steps - step)))
    seconds = time.perf_counter() - t0
    after = validate(torch, model, val, pad, hp.batch_size)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    return Trained(out_dir, steps, tokens, seconds, loss_value, before, after, model)


def save_merged(trained: Trained, base_dir: Path, out_dir: Path) -> Path:
    """The adapter merged into the base, as a Hugging Face folder (for convert_hf_to_gguf)."""
    from transformers import AutoTokenizer

    merged = trained.model.merge_and_unload()
    tok = AutoTokenizer.from_pretrained(base_dir)
    fix_tokens(tok, merged)
    merged.save_pretrained(out_dir)
    tok.save_pretrained(out_dir)
    byte_level_bpe(out_dir / "tokenizer.json")
    return out_dir


def merge_peft(base_dir: Path, peft_dir: Path, out_dir: Path) -> Path:
    """A saved PEFT adapter merged into the base, as a Hugging Face folder."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    return save_merged(Trained(peft_dir, 0, 0, 0.0, 0.0, model=PeftModel.from_pretrained(model, peft_dir)), base_dir,
                       out_dir)  # fmt: skip


def byte_level_bpe(path: Path) -> None:
    """transformers' GGUF reader marks SmolLM2's byte-level BPE ``byte_fallback`` (meaningless with a
    ByteLevel pre-tokenizer, which covers every byte); convert_hf_to_gguf then writes it as a
    SentencePiece vocabulary, which llama.cpp aborts on. Unmarked, it is written as the GPT-2 BPE it is."""
    import json

    data = json.loads(path.read_text())
    if data.get("model", {}).get("type") == "BPE" and data["model"].get("byte_fallback"):
        data["model"]["byte_fallback"] = False
        path.write_text(json.dumps(data, ensure_ascii=False))
