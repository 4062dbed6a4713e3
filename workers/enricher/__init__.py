"""The enricher: catalog.changes -> LLM tags (Ray actor pool of engines) -> enrichment.results + llm.calls.

``build()`` is what `ladle worker enricher` runs: it loads the use case, the prompt,
the taxonomy and the pricing table, starts (or joins) Ray and the engine actors,
and opens the already-enriched state under data_dir/enricher. Nothing here imports
Ray or an engine library until it is needed.
"""

from __future__ import annotations

from pathlib import Path

from shared.prompts.sources import Prompt, prompt_source, resolve
from shared.settings import LadleSettings, ladle_settings
from shared.taxonomy import Taxonomy
from workers.enricher.settings import EnricherSettings, UseCase
from workers.enricher.state import DoneState
from workers.enricher.tagging import Tagger
from workers.enricher.worker import Engines, EnricherWorker

__all__ = ["EnricherSettings", "EnricherWorker", "build", "create_worker", "load_cascade", "make_pool", "make_tagger"]


def load_prompt(settings: EnricherSettings, uc: UseCase, ladle: LadleSettings) -> Prompt:
    source = prompt_source(settings.prompt_source, settings.prompts_dir, ladle)
    return resolve(source, uc.prompt, version=uc.prompt_version, label=uc.prompt_label)


def load_cascade(uc: UseCase, ladle: LadleSettings, ref: str | None = None):
    """The use case's cascade (or ``ref``: NAME@VERSION|LABEL; "off": none), resolved now."""
    ref = ref or uc.cascade
    if not ref or ref == "off":
        return None
    from shared.cascade import CascadeRegistry

    return CascadeRegistry(ladle.data_dir).load(ref)


def make_tagger(settings: EnricherSettings, uc: UseCase, ladle: LadleSettings, *, mode: str = "stream") -> Tagger:
    from shared.pricing import Pricing

    return Tagger(
        uc,
        load_prompt(settings, uc, ladle),
        Taxonomy.load(uc.taxonomy),
        Pricing.load(settings.pricing_file),
        mode=mode,
        team=settings.team,
        max_attempts=settings.max_attempts,
        log_bodies=settings.log_bodies,
        cascade=load_cascade(uc, ladle),
    )


def make_pool(settings: EnricherSettings, uc: UseCase):
    from workers.enricher.pool import EnginePool

    return EnginePool(
        uc.engine_spec(),
        actors=settings.actors,
        chunk_size=uc.chunk_size or settings.chunk_size,
        max_in_flight=settings.max_in_flight,
        max_actor_retries=settings.max_actor_retries,
        num_cpus=uc.actor.num_cpus,
        num_gpus=uc.actor.num_gpus,
    )


def state_path(settings: EnricherSettings, ladle: LadleSettings, uc: UseCase) -> Path:
    return (settings.state_dir or ladle.data_dir / "enricher") / f"done-{uc.name}.sqlite"


def create_worker(
    settings: EnricherSettings, ladle: LadleSettings, *, engines: Engines | None = None, use_case: str | None = None
) -> EnricherWorker:
    """The worker; with ``engines`` None it starts (or joins) Ray and an actor pool it owns."""
    uc = settings.load_use_case(use_case)
    tagger = make_tagger(settings, uc, ladle)
    on_close = []
    if engines is None:
        from workers.enricher.ray_setup import init_ray

        if init_ray(settings.ray_address, settings.ray_num_cpus, settings.ray_worker_niceness):
            import ray

            on_close.append(ray.shutdown)
        engines = make_pool(settings, uc).start()
    worker = EnricherWorker(settings, tagger, engines, DoneState(state_path(settings, ladle, uc)))
    worker.on_close.extend(on_close)
    return worker


def build() -> tuple[EnricherWorker, EnricherSettings]:
    settings = EnricherSettings()
    return create_worker(settings, ladle_settings()), settings
