"""A scripted engine and a ready-made tagger for the enricher's unit tests (no model, no Ray)."""

from __future__ import annotations

import json
from collections.abc import Callable

from schemas import CatalogChange, CatalogItem
from shared.pricing import Pricing
from shared.prompts.sources import FilePromptSource, resolve
from shared.settings import REPO_ROOT
from shared.taxonomy import Taxonomy
from workers.enricher.engines.base import EngineRequest, EngineResult
from workers.enricher.settings import UseCase
from workers.enricher.tagging import Tagger

GOOD = {
    "cuisine": "italian",
    "dish_type": "pizza",
    "dietary": ["vegetarian"],
    "allergens": ["gluten", "dairy"],
    "flavour": ["savory"],
}


class FakeEngine:
    """Answers each request with ``reply(request)``: a string, or an EngineResult for errors."""

    name = "fake"
    model = "SmolLM2-135M-Instruct"

    def __init__(self, reply: Callable[[EngineRequest], str | EngineResult] | None = None) -> None:
        self.reply = reply or (lambda req: json.dumps(GOOD))
        self.requests: list[EngineRequest] = []
        self.closed = False

    def generate(self, requests: list[EngineRequest]) -> list[EngineResult]:
        out = []
        for r in requests:
            self.requests.append(r)
            answer = self.reply(r)
            if isinstance(answer, EngineResult):
                answer.id = r.id
                out.append(answer)
            else:
                out.append(
                    EngineResult(
                        id=r.id,
                        text=answer,
                        input_tokens=300,
                        output_tokens=60,
                        latency_ms=1000.0,
                        ttft_ms=100.0,
                        busy_s=1.0,
                    )
                )
        return out

    def close(self) -> None:
        self.closed = True


def use_case(**kw) -> UseCase:
    base = dict(name="tag", task="tag", engine="llamacpp", model="SmolLM2-135M-Instruct", prompt="catalog-tagging")
    return UseCase(**(base | kw))


def tagger(**kw) -> Tagger:
    uc = kw.pop("uc", None) or use_case()
    prompt = resolve(FilePromptSource(REPO_ROOT / "deploy" / "prompts"), uc.prompt)
    return Tagger(uc, prompt, Taxonomy.load(uc.taxonomy), Pricing.load(), **kw)


def change(i: int, version: int = 1, name: str | None = None, op: str = "upsert", price: float = 9.5) -> CatalogChange:
    item_id = f"item-{i:04d}"
    item = CatalogItem(
        item_id=item_id,
        store_id="st-1",
        name=name or f"Margherita Pizza {i}",
        description="tomato, mozzarella, basil",
        category="pizza",
        cuisine="italian",
        price=price,
    )
    return CatalogChange(op=op, item_id=item_id, version=version, item=item if op == "upsert" else None)
