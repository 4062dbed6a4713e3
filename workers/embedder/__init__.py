"""The catalog embedder: catalog.changes -> embeddings -> Qdrant (Edge in-process, or a server).

``build()`` is what `ladle worker embedder` runs: it loads the model, opens (or
creates) the current collection, and serves the search API from a thread of the
same process, which owns the embedded index.
"""

from __future__ import annotations

import structlog

from shared.encoder import Encoder
from shared.runtime.errors import FatalError, LadleError
from shared.settings import LadleSettings, ladle_settings
from workers.embedder.apply import Index
from workers.embedder.collections import Collections, collections_for, new_info
from workers.embedder.settings import EmbedderSettings
from workers.embedder.text import TextTemplate
from workers.embedder.worker import EmbedderWorker

log = structlog.get_logger(__name__)

__all__ = ["EmbedderSettings", "EmbedderWorker", "build", "create_worker", "open_index"]


def open_index(settings: EmbedderSettings, collections: Collections, encoder: Encoder | None = None) -> Index:
    """The current collection with its model; on a first start, a new collection for the configured model.

    After a reindex the collection's model wins over LADLE_EMBEDDER_MODEL, so a
    restart never mixes two models in one collection.
    """
    template = TextTemplate(settings.text_template)
    info = collections.current()
    if info is None:
        encoder = encoder or settings.load_encoder()
        info = new_info(settings.collection, settings.model, encoder.dim)
        store = collections.create(info)
        collections.switch(info)
        log.info("index.created", collection=info.name, model=info.model, dim=info.dim, backend=collections.kind)
        return Index(info, store, encoder, template)
    if info.model != settings.model:
        log.warning(
            "index.model_differs",
            collection=info.name,
            index_model=info.model,
            configured_model=settings.model,
            hint="the index keeps its model; run `ladle reindex --model NAME` to change it",
        )
    if encoder is None or encoder.name != info.model:
        encoder = settings.load_encoder(info.model)
    store = collections.open(info)
    log.info("index.opened", collection=info.name, model=info.model, points=store.count(), backend=collections.kind)
    return Index(info, store, encoder, template)


def create_worker(
    settings: EmbedderSettings,
    ladle: LadleSettings,
    *,
    collections: Collections | None = None,
    encoder: Encoder | None = None,
) -> EmbedderWorker:
    collections = collections or collections_for(settings, ladle.data_dir)
    try:
        index = open_index(settings, collections, encoder)
    except (LadleError, KeyboardInterrupt):
        raise
    except Exception as exc:  # noqa: BLE001 - e.g. a Qdrant server that does not answer at start-up
        raise FatalError(f"cannot open the {collections.kind} index: {' '.join(str(exc).split())[:300]}") from exc
    return EmbedderWorker(settings, index, collections)


def build() -> tuple[EmbedderWorker, EmbedderSettings]:
    ladle = ladle_settings()
    settings = EmbedderSettings()
    worker = create_worker(settings, ladle)
    if settings.api_port:
        from workers.embedder.api import ApiServer

        worker.api = ApiServer(worker, ladle, settings).start()
    return worker, settings
