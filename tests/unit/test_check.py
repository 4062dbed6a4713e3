"""`ladle check`'s comparisons, on hand-made inputs: every category of every stage, and the
premise of the enrichment stage (the enricher's own notion of "already enriched")."""

from __future__ import annotations

import base64
import json

import pytest

from ladle.check.catalog import Catalog
from ladle.check.clickhouse import Landed, compare_tables
from ladle.check.enrichment import Enrichment, Result, compare_enrichment
from ladle.check.guardrails import Guardrails, compare_guardrails
from ladle.check.index import compare_index
from ladle.check.report import CheckReport, StageReport
from ladle.check.run import parse_stages
from schemas import (
    CatalogChange,
    CatalogItem,
    DeadLetter,
    EnrichmentResult,
    GuardedResult,
    GuardrailVerdict,
    LLMCall,
    PromptRef,
    stable_id,
)
from shared.runtime import codec
from shared.runtime.errors import UserError
from shared.runtime.worker import Record
from tests.unit.enricher_fakes import tagger
from workers.embedder.store import PointRow, point_id
from workers.enricher.tagging import item_text_for

PROMPT = PromptRef(name="catalog-tagging", version=1)
VARS = ["taxonomy", "name", "description", "category", "cuisine", "tags"]


def rec(topic: str, value, partition: int = 0, offset: int = 0, key: str | None = None) -> Record:
    return Record(topic, partition, offset, key, value, codec.encode(value))


def upsert(item_id: str, version: int, name: str = "Pad Thai", price: float = 9.5) -> CatalogChange:
    item = CatalogItem(item_id=item_id, store_id="s1", name=name, description="Rice noodles", price=price)
    return CatalogChange(op="upsert", item_id=item_id, version=version, item=item)


def delete(item_id: str, version: int) -> CatalogChange:
    return CatalogChange(op="delete", item_id=item_id, version=version)


def catalog_of(*changes: CatalogChange, dead: list[tuple[CatalogChange, str]] = ()) -> Catalog:
    cat = Catalog()
    for c in dead:
        change, worker = c
        dl = DeadLetter(original_topic="catalog.changes", error_class="X", error_message="x", worker=worker,
                        raw_value_b64=base64.b64encode(codec.encode(change)).decode())  # fmt: skip
        cat.add_dead_letter(rec("catalog.changes.dlq", dl))
    for i, c in enumerate(changes):
        cat.add(rec("catalog.changes", c, offset=i, key=c.item_id))
    return cat


def verdicts(report: StageReport) -> dict[str, list[str]]:
    return {c: report.ids(c) for c in report.findings if report.findings[c]}


# -- the truth ------------------------------------------------------------------


def test_the_latest_version_wins_wherever_it_sits_and_an_equal_version_is_a_replay():
    cat = catalog_of(upsert("a", 2), upsert("a", 1), delete("b", 3), upsert("b", 2), upsert("c", 1, "First"),
                     upsert("c", 1, "Replayed"))  # fmt: skip
    assert {k: (v.version, v.op) for k, v in cat.items.items()} == {"a": (2, "upsert"), "b": (3, "delete"),
                                                                     "c": (1, "upsert")}  # fmt: skip
    assert cat.items["c"].change().item.name == "First" and cat.live == 2 and cat.changes == 6


def test_a_dead_letter_names_the_version_and_the_worker_that_refused_it():
    cat = catalog_of(upsert("a", 2), upsert("b", 1), dead=[(upsert("a", 2), "embedder"), (upsert("b", 0), "enricher")])
    assert cat.dead_lettered("a", ("embedder",)) and not cat.dead_lettered("a", ("enricher",))
    assert not cat.dead_lettered("b", ("enricher",)), "an older version's dead letter does not explain the latest"


# -- the index --------------------------------------------------------------------


def point(item_id: str | None, version: int, *, deleted: bool = False, vector: bool = True, pid: str = "") -> PointRow:
    return PointRow(pid or f"p-{item_id}-{version}", item_id, version, deleted, vector and not deleted)


def test_index_every_category():
    cat = catalog_of(
        upsert("ok", 2), upsert("old", 3), delete("gone", 3), delete("back", 4), upsert("nopoint", 1),
        upsert("refused", 5), upsert("tomb", 6), upsert("novec", 1), upsert("twice", 1), delete("gone-none", 2),
        dead=[(upsert("refused", 5), "embedder")],
    )  # fmt: skip
    points = [
        point("ok", 2), point("old", 2), point("gone", 3, deleted=True), point("back", 1), point("tomb", 5, deleted=True),
        point("novec", 1, vector=False), point("twice", 1, pid="p1"), point("twice", 1, pid="p2"),
        point("stranger", 1), point("ghost", 9, deleted=True), point(None, 1, pid="anon"),
    ]  # fmt: skip
    r = compare_index(cat, points)
    assert verdicts(r) == {
        "missing": ["nopoint"],
        "stale": ["back", "novec", "old", "tomb"],
        "duplicated": ["twice"],
        "extra": ["anon", "stranger"],
        "dead_lettered": ["refused"],
    }
    assert r.checked == 12 and r.ok == 3  # ok, gone, gone-none; the unknown tombstone is not an item
    assert r.failed == 8
    assert dict((f.id, f.detail) for f in r.findings["stale"])["old"] == "catalog v3, index has v2"
    cut = compare_index(cat, points, judge_extra=False)  # catalog.changes lost its start to retention
    assert cut.ids("extra") == ["anon"] and cut.checked == 11


def test_a_clean_index_is_all_ok():
    cat = catalog_of(upsert("a", 1), upsert("b", 2), delete("c", 1))
    r = compare_index(cat, [point("a", 1), point("b", 2)])
    assert (r.checked, r.ok, r.failed) == (3, 3, 0)


# -- enrichment -------------------------------------------------------------------


def result(change: CatalogChange, *, version: int | None = None, model: str = "m", attempts: int = 1,
           text: str | None = None) -> EnrichmentResult:  # fmt: skip
    return EnrichmentResult(
        item_id=change.item_id, item_version=change.version if version is None else version, task="tag",
        output={"cuisine": "thai"}, engine="llamacpp", model=model, prompt=PROMPT, attempts=attempts,
        item_text=item_text_for(change, VARS) if text is None else text,
    )  # fmt: skip


def enrichment_of(results: list[EnrichmentResult], *, calls: bool = True) -> Enrichment:
    e = Enrichment()
    for i, r in enumerate(results):
        e.add_result(rec("enrichment.results", r, offset=i, key=r.item_id))
        if calls:
            for a in range(1, r.attempts + 1):
                call = LLMCall(call_id=stable_id(r.event_id, a), model=r.model, provider="llamacpp")
                e.add_call(rec("llm.calls", call, key=call.call_id))
    return e


def prompt_vars(ref):
    return VARS if ref == PROMPT else None


def test_enrichment_every_category():
    same_v1, same_v2 = upsert("same", 1, price=9.0), upsert("same", 2, price=12.0)  # the prompt shows no price
    changed_v1, changed_v2 = upsert("changed", 1, "Pad Thai"), upsert("changed", 2, "Pad See Ew")
    cat = catalog_of(
        upsert("ok", 3), same_v1, same_v2, changed_v1, changed_v2, upsert("none", 1), upsert("twice", 1),
        upsert("nocalls", 1), upsert("refused", 2, "New"), delete("deleted", 5), upsert("replayed", 1),
        dead=[(upsert("refused", 2, "New"), "enricher")],
    )  # fmt: skip
    results = [
        result(upsert("ok", 3)), result(same_v1), result(changed_v1), result(upsert("twice", 1)),
        result(upsert("twice", 1), model="other"), result(upsert("refused", 1)), result(upsert("deleted", 4)),
        result(upsert("deleted", 6)), result(upsert("stranger", 1)), result(upsert("replayed", 1)),
        result(upsert("replayed", 1)),
    ]  # fmt: skip
    e = enrichment_of(results)
    nocalls = result(upsert("nocalls", 1), attempts=2)
    e.add_result(rec("enrichment.results", nocalls))
    e.add_call(rec("llm.calls", LLMCall(call_id=stable_id(nocalls.event_id, 1), model="m", provider="p")))

    r, current = compare_enrichment(cat, e, prompt_vars, ["tag"])
    assert verdicts(r) == {
        "missing": ["nocalls", "none"],
        "stale": ["changed"],
        "duplicated": ["twice"],
        "extra": ["deleted", "stranger"],
        "dead_lettered": ["refused"],
    }
    assert r.checked == 10 and r.ok == 3  # ok, same (v1's text is v2's), replayed (one event_id twice)
    assert e.results[results[-1].event_id].copies == 2
    assert sorted(x.item_id for x in current) == ["nocalls", "ok", "replayed", "same", "twice", "twice"]
    cut, _ = compare_enrichment(cat, e, prompt_vars, ["tag"], judge_extra=False)
    assert cut.ids("extra") == ["deleted"], "a result newer than the delete is extra whatever the retention"


def test_a_result_a_cascades_classifier_answered_whole_paid_for_no_model_call():
    item = upsert("classified", 1)
    r = result(item).model_copy(update={"engine": "cascade", "model": "tag@1", "cascade": "tag@1"})
    report, current = compare_enrichment(catalog_of(item), enrichment_of([r], calls=False), prompt_vars, ["tag"])
    assert verdicts(report) == {} and report.ok == 1 and [x.item_id for x in current] == ["classified"]
    llm = result(upsert("asked", 1)).model_copy(update={"cascade": "tag@1"})  # the engine answered some fields
    report, _ = compare_enrichment(catalog_of(upsert("asked", 1)), enrichment_of([llm], calls=False), prompt_vars,
                                   ["tag"])  # fmt: skip
    assert verdicts(report) == {"missing": ["asked"]}


def test_without_the_prompt_only_the_latest_version_is_current():
    v1, v2 = upsert("same", 1, price=9.0), upsert("same", 2, price=12.0)
    r, _ = compare_enrichment(catalog_of(v1, v2), enrichment_of([result(v1)]), lambda ref: None, ["tag"])
    assert verdicts(r) == {"stale": ["same"]}


def test_item_text_is_the_enrichers_and_equal_texts_are_what_it_skips():
    t = tagger()
    a, b, c = upsert("x", 1, price=9.0), upsert("x", 2, price=12.0), upsert("x", 3, "Another name")
    variables = list(t.prompt.version.variables)
    for change in (a, b, c):
        assert item_text_for(change, variables) == t.job(change).item_text
    assert t.job(a).key == t.job(b).key, "a price change is already enriched: no new result for v2"
    assert t.job(a).key != t.job(c).key


# -- guardrails ------------------------------------------------------------------


def routed(r: EnrichmentResult, route: str = "accepted", policy_version: str = "p1") -> tuple[Record, Record]:
    v = GuardrailVerdict(subject_id=r.event_id, policy="tag", policy_version=policy_version, action="accept")
    g = GuardedResult(result=r, verdict=v, route=route)
    return rec(f"enrichment.{route}", g, key=r.item_id), rec("guardrail.verdicts", v, key=r.event_id)


def test_guardrails_every_category():
    rs = {name: result(upsert(name, 1)) for name in ("ok", "never", "twice", "tworoutes", "noverdict", "refused")}
    g = Guardrails()
    g.add_dead_letter(rec("enrichment.results.dlq", DeadLetter(
        original_topic="enrichment.results", original_partition=2, original_offset=7, error_class="X",
        error_message="x", worker="guardrails")))  # fmt: skip
    g.add_result(rec("enrichment.results", rs["refused"], partition=2, offset=7))
    for name in ("ok", "twice", "tworoutes", "noverdict"):
        routing, verdict = routed(rs[name])
        g.add_routing(routing)
        g.add_routing(routing)  # a replay: the same ids again
        if name != "noverdict":
            g.add_verdict(verdict)
    g.add_routing(routed(rs["twice"], policy_version="p2")[0])
    g.add_routing(routed(rs["tworoutes"], route="review")[0])
    stranger = result(upsert("stranger", 1))
    g.add_routing(routed(stranger)[0])

    r = compare_guardrails([Result.of(x) for x in rs.values()], {x.event_id for x in rs.values()}, g)
    assert verdicts(r) == {
        "missing": ["never", "noverdict"],
        "duplicated": ["twice", "tworoutes"],
        "extra": ["stranger"],
        "dead_lettered": ["refused"],
    }
    assert r.checked == 7 and r.ok == 1


# -- ClickHouse -------------------------------------------------------------------


def test_clickhouse_every_category_and_retention():
    landed = Landed({"llm.calls": "llm_calls", "llm.calls.dlq": "dead_letters", "catalog.embedded": "catalog_embedded"})
    calls = [LLMCall(call_id=f"c{i}", model="m", provider="p") for i in range(5)]
    dl = DeadLetter(original_topic="llm.calls", original_partition=0, original_offset=4, error_class="X",
                    error_message="x", worker="sink")  # fmt: skip
    landed.add_dead_letter(rec("llm.calls.dlq", dl))
    landed.add(rec("llm.calls.dlq", dl, key=None))
    for i, c in enumerate(calls):
        landed.add(rec("llm.calls", c, offset=i, key=c.call_id))
    landed.add(rec("llm.calls", calls[0], offset=9, key="c0"))  # a replay
    ids = [c.event_id for c in calls]
    rows = {
        "llm_calls": {ids[0]: 1, ids[1]: 2, "ghost": 1},
        "dead_letters": {dl.event_id: 1},
        "catalog_embedded": {"old": 1},
    }
    judge = {"llm_calls": True, "dead_letters": True, "catalog_embedded": False}

    r = compare_tables(landed, rows, judge)
    assert verdicts(r) == {"missing": ["c2", "c3"], "duplicated": ["c1"], "extra": ["ghost"], "dead_lettered": ["c4"]}
    assert r.checked == 7 and r.ok == 2
    assert r.notes == ["catalog_embedded: 1 rows older than the topics' retention were not judged"]


# -- the report ------------------------------------------------------------------


def test_the_report_counts_sums_and_says_clean_or_not():
    a, b = StageReport("index", checked=3), StageReport("clickhouse", checked=2)
    b.add("dead_lettered", "x")
    report = CheckReport([a, b], 1.0)
    assert report.clean and report.summary().startswith("check clean: 5 checked in index,clickhouse; 0 missing")
    a.add("stale", "it-1", "catalog v2, index has v1")
    body = json.loads(json.dumps(report.to_json()))
    assert not body["clean"] and body["stages"][0]["stale"] == 1 and body["stages"][0]["ok"] == 2
    assert body["stages"][0]["findings"]["stale"] == [{"id": "it-1", "detail": "catalog v2, index has v1"}]
    assert "NOT clean" in body["summary"] and "1 stale" in body["summary"] and "1 dead-lettered" in body["summary"]


def test_the_table_for_people_names_the_first_offenders_and_ends_with_the_summary():
    import io

    from rich.console import Console

    from ladle.check.render import render

    rep = StageReport("index", "embedder API http://127.0.0.1:8081", checked=10)
    for i in range(7):
        rep.add("stale", f"it-{i}", f"catalog v2, index has v1 #{i}")
    rep.notes.append("the embedder's group ladle.embedder has 3 messages left to commit")
    buf = io.StringIO()
    render(CheckReport([rep], 2.0), Console(file=buf, width=200), show=5)
    text = buf.getvalue()
    assert "it-4" in text and "it-5" not in text, "five per category"
    assert "catalog v2, index has v1 #0" in text and "note (index): the embedder's group" in text
    assert (
        text.strip().splitlines()[-1]
        == "check NOT clean: 10 checked in index; 0 missing, 7 stale, 0 duplicated, 0 extra (2.0s)"
    )


def test_stages_are_validated():
    assert parse_stages("clickhouse, index") == ["index", "clickhouse"]
    with pytest.raises(UserError, match="unknown stage"):
        parse_stages("index,vectors")


# -- listing the index -------------------------------------------------------------


@pytest.fixture(params=["edge", "server"])
def store(request, tmp_path):
    from workers.embedder.collections import EdgeCollections, ServerCollections, new_info

    if request.param == "edge":
        cols = EdgeCollections(tmp_path / "embedder")
    else:
        from qdrant_client import QdrantClient

        cols = ServerCollections(QdrantClient(":memory:"), "catalog")
    s = cols.create(new_info("catalog", "fake-model", 4))
    yield s
    s.close()


def test_points_are_listed_page_by_page_with_tombstones_and_vectors(store):
    store.upsert([(f"i{i}", [1.0, 0.0, 0.0, float(i)], {"item_id": f"i{i}", "version": i}) for i in range(7)])
    store.tombstone([("i3", {"item_id": "i3", "version": 9, "deleted": True})])
    rows, offset = [], None
    while True:
        got, offset = store.points(offset, 3)
        assert len(got) <= 3
        rows += got
        if offset is None:
            break
    by_item = {r.item_id: r for r in rows}
    assert sorted(by_item) == [f"i{i}" for i in range(7)] and len(rows) == 7
    assert (by_item["i3"].deleted, by_item["i3"].vector, by_item["i3"].version) == (True, False, 9)
    assert all(r.vector and not r.deleted and r.version == int(r.item_id[1:]) for r in rows if r.item_id != "i3")
    assert all(r.id == point_id(r.item_id) for r in rows)
