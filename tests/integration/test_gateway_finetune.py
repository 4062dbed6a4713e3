"""The gateway's OpenAI fine-tuning API driven by the official `openai` client: a chat-format file is
uploaded, a job created and polled to `succeeded` (a real `ladle finetune create` child process:
SmolLM2's GGUF, PEFT for 2 steps, llama.cpp's converters), its events listed newest first, its
checkpoint names the adapter the registry serves; cancel stops a job; a bad file is refused with a
400 that names the line; another team neither sees nor cancels a job. The deployment is never
called: the config points at a closed port."""

from __future__ import annotations

import json
import time

import openai
import pytest

from schemas import Usage
from services.gateway.app import Gateway, create_app
from services.gateway.config import GatewayConfig, hash_key
from services.gateway.providers.finetuned import resolver
from services.gateway.router import Router
from shared.finetune import AdapterRegistry, jobs
from shared.pricing import Pricing
from shared.settings import REPO_ROOT, LadleSettings
from tests.integration.gateway_helpers import Served

pytestmark = pytest.mark.slow

KEYS = {"catalog": "sk-catalog-ft", "ads": "sk-ads-ft"}
TRAIN = REPO_ROOT / "deploy" / "eval" / "food-group-train.jsonl"


def chat_lines(n: int) -> bytes:
    rows = [json.loads(line) for line in TRAIN.read_text().splitlines()[:n]]
    out = []
    for r in rows:
        item = r["item"]
        out.append({"messages": [
            {"role": "system", "content": "You classify food products into USDA food groups. Reply with JSON."},
            {"role": "user", "content": f"Product: {item['name']}"},
            {"role": "assistant", "content": json.dumps({"food_group": r["expected"]["food_group"]})}]})  # fmt: skip
    return "".join(json.dumps(o) + "\n" for o in out).encode()


@pytest.fixture
def gateway(tmp_path, monkeypatch):
    monkeypatch.setenv("LADLE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LADLE_KAFKA_BOOTSTRAP", "127.0.0.1:9")  # no broker: job records in the data dir only
    cfg = GatewayConfig.model_validate({
        "deployments": [{"name": "local", "provider": "openai_compatible", "model": "smollm2",
                         "base_url": "http://127.0.0.1:9/v1", "max_retries": 0}],
        "aliases": {"fast": ["local"]},
        "teams": [{"name": t, "key_sha256": [hash_key(k)]} for t, k in KEYS.items()],
    })  # fmt: skip
    gw = Gateway(cfg, Router(cfg), Pricing.load(), None)
    gw.router.resolve = resolver(tmp_path / "data")  # as the gateway's server wires it
    served = Served(create_app(gw))
    clients = {t: openai.OpenAI(base_url=served.url, api_key=k, max_retries=0, timeout=60) for t, k in KEYS.items()}
    yield clients, LadleSettings(data_dir=tmp_path / "data"), gw
    served.stop()


def wait_for(client, job_id: str, statuses: set[str], timeout_s: float = 240) -> object:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = client.fine_tuning.jobs.retrieve(job_id)
        if job.status in statuses:
            return job
        time.sleep(1)
    raise AssertionError(f"job {job_id} still {job.status}")


def test_upload_train_poll_events_and_checkpoint_with_the_openai_client(gateway):
    clients, ladle, gw = gateway
    client = clients["catalog"]
    f = client.files.create(file=("train.jsonl", chat_lines(5)), purpose="fine-tune")
    assert (f.object, f.purpose, f.status, f.bytes) == ("file", "fine-tune", "processed", len(chat_lines(5)))
    job = client.fine_tuning.jobs.create(model="food-group", training_file=f.id, hyperparameters={"batch_size": 2},
                                         suffix="fg-api", metadata={"max_steps": "2", "rank": "4", "merge": "false"})  # fmt: skip
    assert (job.status, job.model, job.training_file) == ("validating_files", "food-group", f.id)
    done = wait_for(client, job.id, {"succeeded", "failed", "cancelled"})
    log = (ladle.data_dir / "finetune" / "jobs" / job.id / "train.log").read_text()
    assert done.status == "succeeded", log[-2000:]
    assert done.fine_tuned_model == "fg-api@1" and done.trained_tokens > 0
    record = jobs.load(ladle, job.id)
    training_usd = Pricing.load().cost_for("SmolLM2-135M-Instruct", Usage(), seconds=record.machine_s)
    assert training_usd > 0 and gw.teams.ledgers["catalog"].spent_usd == training_usd  # charged once
    client.fine_tuning.jobs.retrieve(job.id)
    assert gw.teams.ledgers["catalog"].spent_usd == training_usd
    events = client.fine_tuning.jobs.list_events(job.id).data
    assert [e.data.get("status") or f"step {e.data['step']}" for e in reversed(events)] == [
        "validating_files", "queued", "running", "step 1", "step 2", "succeeded"]  # fmt: skip
    assert events[1].type == "metrics" and events[1].data["total_steps"] == 2
    [ckpt] = client.fine_tuning.jobs.checkpoints.list(job.id).data
    assert (ckpt.fine_tuned_model_checkpoint, ckpt.step_number) == ("fg-api@1", 2)
    assert AdapterRegistry(ladle.data_dir).serving("fg-api@1").lora_path.endswith("adapter.gguf")
    assert [j.id for j in client.fine_tuning.jobs.list().data] == [job.id]
    answer = client.chat.completions.create(
        model=done.fine_tuned_model, max_tokens=24, temperature=0,
        messages=[{"role": "system", "content": "You classify food products into USDA food groups. Reply with JSON."},
                  {"role": "user", "content": "Product: Cheese, cheddar"}],
        response_format={"type": "json_schema", "json_schema": {"name": "fg", "schema": {
            "type": "object", "properties": {"food_group": {"type": "string"}}, "required": ["food_group"]}}},
    )  # fmt: skip
    assert answer.model == "fg-api@1" and answer.usage.completion_tokens > 0
    assert isinstance(json.loads(answer.choices[0].message.content)["food_group"], str)
    assert gw.teams.ledgers["catalog"].spent_usd > training_usd  # the chat is priced as the base model
    assert clients["ads"].fine_tuning.jobs.list().data == []
    with pytest.raises(openai.NotFoundError):
        clients["ads"].fine_tuning.jobs.retrieve(job.id)
    with pytest.raises(openai.BadRequestError, match="is succeeded already"):
        client.fine_tuning.jobs.cancel(job.id)


def test_cancel_stops_a_job_and_bad_files_and_models_are_refused(gateway):
    clients, *_ = gateway
    client = clients["catalog"]
    bad = chat_lines(2) + b'{"messages": [{"role": "user", "content": "x"}]}\n'
    with pytest.raises(openai.BadRequestError, match="line 3: the last message must be the assistant's answer"):
        client.files.create(file=("bad.jsonl", bad), purpose="fine-tune")
    with pytest.raises(openai.BadRequestError, match="purpose must be 'fine-tune'"):
        client.files.create(file=("t.jsonl", chat_lines(2)), purpose="assistants")
    f = client.files.create(file=("train.jsonl", chat_lines(5)), purpose="fine-tune")
    with pytest.raises(openai.BadRequestError, match="not a llama.cpp use case"):
        client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=f.id)
    with pytest.raises(openai.BadRequestError, match="no uploaded file"):
        client.fine_tuning.jobs.create(model="food-group", training_file="file-nope")
    job = client.fine_tuning.jobs.create(model="food-group", training_file=f.id, hyperparameters={"batch_size": 2},
                                         metadata={"max_steps": "50", "rank": "4"})  # fmt: skip
    with pytest.raises(openai.NotFoundError):
        clients["ads"].fine_tuning.jobs.cancel(job.id)
    asked = client.fine_tuning.jobs.cancel(job.id)
    assert asked.id == job.id
    done = wait_for(client, job.id, {"succeeded", "failed", "cancelled"})
    assert done.status == "cancelled" and done.fine_tuned_model is None
