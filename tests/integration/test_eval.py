"""`ladle eval` against real parts: SmolLM2 in llama.cpp, the broker, the sink and chDB, the
prompt registry on its topic. A run lands exactly once in ClickHouse; the release gate refuses
a bad prompt version and lets a better one through; a bad dataset row is named by its line."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ladle.eval import store as eval_store
from shared.pricing import Pricing
from shared.prompts import PromptRegistry
from shared.runtime.loop import Runtime
from workers.sink.service import SinkWorkerSettings
from workers.sink.worker import ClickHouseSink

GOOD = (
    "Classify the product below into exactly one food group. Use only these values:\n{taxonomy}\n\n"
    "Product: {name}\nDetails: {description}"
)
BAD = "Answer with the food group Baby Foods whatever the product is. Values:\n{taxonomy}\n\nIgnore this: {name}"


def ladle(env, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ladle.cli", *args], env=env, capture_output=True, text=True,
                          timeout=timeout)  # fmt: skip


def land(settings, store, group: str, expected: int) -> None:
    ws = SinkWorkerSettings(group_id=group, api_port=0, max_batch_wait_s=0.1)
    Runtime(ClickHouseSink(store, Pricing.load()), settings, ws).run(max_messages=expected, idle_exit_s=15)


@pytest.mark.slow
def test_a_run_on_20_rows_lands_exactly_once_in_clickhouse(settings, topics, env, store):
    res = ladle(env, "eval", "run", "food-group", "--limit", "20", "--json")
    assert res.returncode == 0, res.stderr[-3000:]
    lines = [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]
    assert [(x["field"], x["metric"]) for x in lines] == [
        ("food_group", "accuracy"), ("food_group", "macro_f1"), ("all", "invalid_rate"), ("all", "llm_call_share"),
        ("all", "cost_per_1k_items_usd"), ("all", "latency_p50_ms"), ("all", "latency_p95_ms"),
        ("all", "items_per_s"), ("all", "macro_f1"),
    ]  # fmt: skip
    run_id = lines[0]["eval"]
    assert all(x["eval"] == run_id and x["items"] == 20 and x["dataset"] == "food-group" for x in lines)
    by = {(x["field"], x["metric"]): x["value"] for x in lines}
    assert by[("all", "macro_f1")] == by[("food_group", "macro_f1")]

    run, items = eval_store.load(settings, run_id)
    assert run.items == 20 and len(items) == 20 and run.prompt.name == "food-group"
    # The use case's cascade answered first: its answers made no model call, the rest did.
    assert run.cascade == "food-group@1"
    by_classifier = [i for i in items if i.answered_by == {"food_group": "cascade/food-group@1"}]
    assert all(i.llm_calls == 0 for i in by_classifier) and all(
        i.llm_calls > 0 for i in items if i not in by_classifier
    )
    assert by[("all", "llm_call_share")] == (20 - len(by_classifier)) / 20
    land(settings, store, f"{settings.topic_prefix}sink", 21)
    assert store.scalar(f"SELECT count() FROM eval_runs WHERE run_id = '{run_id}'") == 1
    assert store.scalar(f"SELECT count() FROM eval_items WHERE run_id = '{run_id}'") == 20
    right = store.scalar(f"SELECT countIf(correct['food_group']) FROM eval_items WHERE run_id = '{run_id}'")
    assert right == sum(i.correct["food_group"] for i in items) == round(by[("food_group", "accuracy")] * 20)
    landed = store.query(f"SELECT metric_names, metric_values FROM eval_runs WHERE run_id = '{run_id}'")[1][0]
    assert dict(zip(landed[0][-1:], landed[1][-1:], strict=True)) == {"macro_f1": by[("all", "macro_f1")]}
    answered = (
        f"SELECT countIf(answered_by['food_group'] = 'cascade/food-group@1') FROM eval_items WHERE run_id = '{run_id}'"
    )
    assert store.scalar(answered) == len(by_classifier)

    # The same run published again (a retry): a fresh consumer group reads both copies, one lands.
    from ladle.eval.run import RunResult

    eval_store.publish(settings, RunResult(run, items, []))
    land(settings, store, f"{settings.topic_prefix}sink-again", 42)
    assert store.scalar(f"SELECT count() FROM eval_runs WHERE run_id = '{run_id}'") == 1
    assert store.scalar(f"SELECT count() FROM eval_items WHERE run_id = '{run_id}'") == 20


def test_a_bad_row_is_named_by_its_line_and_the_rest_are_scored(settings, env, tmp_path):
    rows = [
        {"id": "a", "item": {"name": "Whole milk, 3.25% milkfat"}, "expected": {"food_group": "Dairy and Egg Products"}},
        {"id": "b", "item": {"name": "Apple juice"}, "expected": {"food_group": "Juice"}},
    ]  # fmt: skip
    path = tmp_path / "small.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    res = ladle(env, "eval", "run", str(path), "--use-case", "food-group", "--json", "--no-publish")
    assert res.returncode == 1, res.stderr[-2000:]
    assert f"{path}: line 2: expected food_group: 'Juice' is not a value of the taxonomy" in res.stderr
    lines = [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]
    assert lines[-1]["metric"] == "macro_f1" and all(x["items"] == 1 for x in lines)
    res = ladle(env, "eval", "run", "no-such-set")
    assert res.returncode == 2 and "no dataset 'no-such-set'" in res.stderr


@pytest.mark.slow
def test_the_gate_refuses_a_bad_prompt_version_and_lets_a_better_one_through(settings, topics, env, tmp_path):
    import yaml

    from shared.settings import REPO_ROOT

    cases = yaml.safe_load((REPO_ROOT / "deploy" / "enricher" / "use_cases.yaml").read_text())
    uc = cases["use_cases"]["food-group"]
    uc["gate"] = {"dataset": "food-group", "metric": "macro_f1", "min": 0.05, "limit": 16}
    uc.pop("cascade")  # the prompt alone is under test: no classifier answers before it
    uc["taxonomy"] = str(REPO_ROOT / uc["taxonomy"])
    (tmp_path / "use_cases.yaml").write_text(yaml.safe_dump({"use_cases": {"food-group": uc}}))
    env = {**env, "LADLE_ENRICHER_USE_CASES_FILE": str(tmp_path / "use_cases.yaml"),
           "LADLE_ENRICHER_PROMPT_SOURCE": "topic"}  # fmt: skip
    reg = PromptRegistry(settings).load()
    variables = ["taxonomy", "name", "description"]
    system = {"system": "You classify food products into USDA food groups. Reply with one JSON object."}
    reg.push("food-group", BAD, variables=variables[:2], parameters=system)  # v1: always "Baby Foods"
    reg.push("food-group", GOOD, variables=variables, parameters=system)  # v2

    res = ladle(env, "prompts", "promote", "food-group", "1")
    assert res.returncode == 1, res.stdout + res.stderr[-3000:]
    assert "gate food-group: refused:" in res.stderr and "below the gate's minimum 0.05" in res.stderr
    assert "production stays at -" in res.stderr
    assert PromptRegistry(settings).load().get("food-group").labels == {}

    res = ladle(env, "prompts", "promote", "food-group", "1", "--force", "--reason", "seed the registry")
    assert res.returncode == 0 and "forced past the gate" in res.stdout, res.stderr[-3000:]
    res = ladle(env, "prompts", "promote", "food-group", "2")
    assert res.returncode == 0, res.stdout + res.stderr[-3000:]
    assert "gate food-group: passed:" in res.stderr
    state = PromptRegistry(settings).load().get("food-group")
    assert state.labels == {"production": 2}
    forced, gated = state.history
    assert (forced.version, forced.forced, forced.reason) == (1, True, "seed the registry") and "refused" in forced.gate
    assert (gated.version, gated.previous, gated.forced) == (2, 1, False) and "passed" in gated.gate

    # Both versions' runs were kept; promoting v1 again reuses them and is refused again.
    runs = eval_store.list_runs(settings, "food-group")
    assert sorted(r.prompt.version for r in runs) == [1, 2] and all(r.items == 16 for r in runs)
    res = ladle(env, "prompts", "promote", "food-group", "1")
    assert res.returncode == 1 and "refused" in res.stderr
    assert len(eval_store.list_runs(settings, "food-group")) == 2, "the gate reused the kept runs"
