from schemas import EVENT_MODELS, CatalogChange, CatalogItem, DeadLetter
from topics.registry import DLQ_SUFFIX, TOPICS, Namespace, key_of, spec

DESIGN_TOPICS = {
    "catalog.changes": 6,
    "catalog.embedded": 3,
    "enrichment.results": 6,
    "enrichment.accepted": 6,
    "enrichment.review": 6,
    "enrichment.rejected": 6,
    "guardrail.verdicts": 3,
    "llm.calls": 6,
    "prompts": 1,
    "eval.runs": 1,
    "eval.items": 3,
    "review.decisions": 3,
    "finetune.jobs": 1,
}


def test_the_registry_has_every_design_topic_with_its_partitions_and_a_dlq():
    for name, partitions in DESIGN_TOPICS.items():
        assert TOPICS[name].partitions == partitions
        assert TOPICS[name + DLQ_SUFFIX].value_model is DeadLetter
        assert TOPICS[name + DLQ_SUFFIX].retention_ms == 30 * 24 * 3600 * 1000
    assert len(TOPICS) == 2 * len(DESIGN_TOPICS)


def test_every_event_model_has_a_topic():
    used = {s.value_model.__name__ for s in TOPICS.values()}
    assert used == set(EVENT_MODELS)


def test_prompts_is_compacted_and_kept():
    p = spec("prompts")
    assert p.cleanup_policy == "compact" and p.retention_ms == -1
    assert p.configs()["cleanup.policy"] == "compact"


def test_dlq_fits_a_dead_letter_of_a_max_size_message():
    for s in TOPICS.values():
        if s.dlq:
            assert TOPICS[s.name + DLQ_SUFFIX].max_message_bytes >= s.max_message_bytes * 4 // 3 + 10_000


def test_key_of_follows_dotted_paths():
    c = CatalogChange(
        op="upsert", item_id="i9", version=1, item=CatalogItem(item_id="i9", store_id="s", name="n", price=1)
    )
    assert key_of(spec("catalog.changes"), c) == "i9"


def test_namespace_maps_both_ways():
    ns = Namespace("t1.")
    assert ns.physical("llm.calls") == "t1.llm.calls"
    assert ns.logical("t1.llm.calls") == "llm.calls"
    assert Namespace().physical("x") == "x"


def test_unknown_topic_names_the_known_ones():
    try:
        spec("catalog.change")
    except KeyError as exc:
        assert "catalog.changes" in str(exc)
    else:
        raise AssertionError("expected KeyError")
