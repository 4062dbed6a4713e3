"""`ladle topics apply|list`, `ladle produce catalog` and `ladle kafka status` against the real broker."""

from __future__ import annotations

import json
import subprocess
import sys

from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource, NewPartitions, ResourceType

from schemas import CatalogChange, DeadLetter
from shared.settings import REPO_ROOT
from tests.integration.kafka_helpers import create_topic, read_all
from topics import apply as topic_apply
from topics.registry import TOPICS, Namespace

SAMPLE = REPO_ROOT / "deploy" / "catalog" / "sample_catalog.jsonl"


def ladle(env, *args, check=True):
    res = subprocess.run(
        [sys.executable, "-m", "ladle.cli", *args], env=env, capture_output=True, text=True, timeout=300
    )
    if check and res.returncode != 0:
        raise AssertionError(f"ladle {' '.join(args)} -> {res.returncode}\n{res.stdout}\n{res.stderr}")
    return res


def test_apply_creates_then_alters_then_changes_nothing_and_never_deletes(settings, env):
    from shared.kafka import clients

    admin = clients.admin(settings)
    ns = Namespace(settings.topic_prefix)
    extra = settings.topic_prefix + "not.in.registry"
    create_topic(admin, extra, 1)

    first = ladle(env, "topics", "apply").stdout
    assert first.count("create") == len(TOPICS)
    have = topic_apply.describe(admin, [ns.physical(n) for n in TOPICS])
    assert len(have) == len(TOPICS)
    assert have[ns.physical("catalog.changes")].partitions == 6
    assert have[ns.physical("prompts")].configs["cleanup.policy"] == "compact"
    assert have[ns.physical("llm.calls.dlq")].configs["retention.ms"] == str(30 * 86_400_000)

    # Someone changes a config by hand and shrinks... no, grows nothing: apply puts it back.
    res = ConfigResource(
        ResourceType.TOPIC,
        ns.physical("llm.calls"),
        incremental_configs=[ConfigEntry("retention.ms", "1000", incremental_operation=AlterConfigOpType.SET)],
    )
    for f in admin.incremental_alter_configs([res]).values():
        f.result(30)
    dry = ladle(env, "topics", "apply", "--dry-run").stdout
    assert "alter" in dry and "retention.ms: 1000 -> 604800000" in dry
    assert (
        topic_apply.describe(admin, [ns.physical("llm.calls")])[ns.physical("llm.calls")].configs["retention.ms"]
        == "1000"
    )
    ladle(env, "topics", "apply")
    assert (
        topic_apply.describe(admin, [ns.physical("llm.calls")])[ns.physical("llm.calls")].configs["retention.ms"]
        == "604800000"
    )

    # More partitions on the broker than in the registry: a warning, never a change.
    for f in admin.create_partitions([NewPartitions(ns.physical("guardrail.verdicts"), 5)]).values():
        f.result(30)
    again = ladle(env, "topics", "apply").stdout
    assert "never lowered" in again and "changed 0" in again
    assert extra in admin.list_topics(timeout=10).topics, "apply never deletes"

    listing = ladle(env, "topics", "list").stdout
    assert "catalog.changes" in listing and "differs" in listing and "ok" in listing


def test_produce_the_sample_catalog_sends_every_row(settings, topics, env):
    res = ladle(env, "produce", "catalog", str(SAMPLE))
    assert "sent 520, rejected 0, failed 0" in res.stdout
    msgs = read_all(settings, "catalog.changes", expected=520)
    assert len(msgs) == 520
    ids = {m.key().decode() for m in msgs}
    assert ids == {json.loads(line)["item_id"] for line in SAMPLE.read_text().splitlines()}
    first = CatalogChange.from_json(msgs[0].value())
    assert first.op == "upsert" and first.item is not None


def test_produce_reports_bad_rows_by_line_sends_the_rest_and_dead_letters_them(settings, topics, env, tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_text(
        "item_id,store_id,name,price,description\n"
        "ok-1,s1,Ramen,12.5,rich broth\n"
        "bad-1,s1,,3,missing name\n"
        "ok-2,s1,Gyoza,7,dumplings\n"
        "bad-2,s1,Soup,-4,negative price\n"
        f"big-1,s1,Huge,1,{'x' * 1_200_000}\n"
    )
    res = ladle(env, "produce", "catalog", str(path), check=False)
    assert res.returncode == 1
    assert "sent 2, rejected 3, failed 0" in res.stdout
    assert "line 3: item.name: Field required" in res.stderr
    assert "line 5: item.price" in res.stderr
    assert "line 6: item.description: String should have at most 16384 characters" in res.stderr
    sent = read_all(settings, "catalog.changes", expected=2)
    assert sorted(m.key().decode() for m in sent) == ["ok-1", "ok-2"]
    dead = [DeadLetter.model_validate_json(m.value()) for m in read_all(settings, "catalog.changes.dlq", expected=3)]
    assert sorted(d.source for d in dead) == ["mixed.csv:3", "mixed.csv:5", "mixed.csv:6"]
    assert {d.error_class for d in dead} == {"RejectedRow"}


def test_produce_refuses_an_event_over_the_topic_limit(settings, topics, env, tmp_path):
    path = tmp_path / "big.jsonl"
    attrs = {f"k{i}": "v" * 1000 for i in range(1200)}  # valid, but ~1.2 MB on the wire
    path.write_text(
        json.dumps({"item_id": "ok", "store_id": "s", "name": "n", "price": 1})
        + "\n"
        + json.dumps({"item_id": "big", "store_id": "s", "name": "n", "price": 1, "attributes": attrs})
        + "\n"
    )
    res = ladle(env, "produce", "catalog", str(path), check=False)
    assert res.returncode == 1 and "sent 1, rejected 1, failed 0" in res.stdout
    assert "line 2: event is" in res.stderr and "over the catalog.changes limit of 1,048,588 bytes" in res.stderr
    dead = [DeadLetter.model_validate_json(m.value()) for m in read_all(settings, "catalog.changes.dlq", expected=1)]
    assert [(d.source, d.original_key) for d in dead] == [("big.jsonl:2", "big")]


def test_produce_deletes(settings, topics, env, tmp_path):
    path = tmp_path / "gone.jsonl"
    path.write_text('{"item_id": "a"}\n{"item_id": "b"}\n')
    assert "sent 2, rejected 0" in ladle(env, "produce", "catalog", str(path), "--delete").stdout
    ops = {CatalogChange.from_json(m.value()).op for m in read_all(settings, "catalog.changes", expected=2)}
    assert ops == {"delete"}


def test_commands_without_a_broker_fail_with_one_line(env):
    e = dict(env, LADLE_KAFKA_BOOTSTRAP="127.0.0.1:1")
    res = ladle(e, "topics", "list", check=False)
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0 and "Kafka is not reachable at 127.0.0.1:1" in res.stderr


def test_kafka_start_and_status_are_idempotent(broker, env):
    e = dict(
        env,
        LADLE_DATA_DIR=str(broker.data_dir),
        LADLE_BROKER_PORT=str(broker.port),
        LADLE_BROKER_CONTROLLER_PORT=str(broker.controller_port),
    )
    assert "kafka running" in ladle(e, "kafka", "status").stdout
    assert "kafka running" in ladle(e, "kafka", "start").stdout
    stopped = dict(e, LADLE_DATA_DIR=str(broker.data_dir / "elsewhere"))
    res = ladle(stopped, "kafka", "status", check=False)
    assert res.returncode == 1 and "kafka stopped" in res.stdout
