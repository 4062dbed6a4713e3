"""OpenAI's fine-tuning API on the gateway: POST /v1/files (purpose `fine-tune`, chat-format JSONL),
POST /v1/fine_tuning/jobs, GET /v1/fine_tuning/jobs[/{id}], /events, /checkpoints, POST .../cancel.

A job is `ladle finetune create --training-file ... --job-id ...` in a child process (the training
code is the application's, not the gateway's); its record and events are the shared job folder
(shared.finetune.jobs), also published on finetune.jobs. `model` names the use case whose open model
is trained (a llama.cpp use case of deploy/enricher/use_cases.yaml); the result's `fine_tuned_model`
is the adapter version NAME@VERSION, which the gateway then serves as a model (providers/finetuned.py).
Team keys apply: a team sees and cancels its own jobs only; a team whose budget is spent starts none,
and a finished job's training time is charged to its team as machine seconds of the base model's
self-hosted price (deploy/pricing/pricing.yaml).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import orjson
import yaml
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from schemas import FineTuneJob, Usage
from schemas.finetune import FINAL
from services.gateway.responses import error
from services.gateway.state import Gateway
from services.gateway.teams import Refused
from shared.finetune import jobs
from shared.finetune.files import parse_jsonl
from shared.runtime.errors import UserError
from shared.settings import REPO_ROOT, LadleSettings, ladle_settings

MAX_FILE_BYTES = 50 * 1024 * 1024


def files_dir(ladle: LadleSettings) -> Path:
    return Path(ladle.data_dir) / "finetune" / "files"


def use_cases() -> dict:
    path = Path(os.environ.get("LADLE_ENRICHER_USE_CASES_FILE", REPO_ROOT / "deploy" / "enricher" / "use_cases.yaml"))
    return (yaml.safe_load(path.read_text()) or {}).get("use_cases") or {}


def job_object(j: FineTuneJob) -> dict:
    hp = j.hyperparameters
    return {
        "id": j.job_id, "object": "fine_tuning.job", "created_at": int(j.occurred_at.timestamp()),
        "finished_at": int(j.occurred_at.timestamp()) if j.status in ("succeeded", "failed", "cancelled") else None,
        "model": j.use_case, "fine_tuned_model": j.fine_tuned_model, "organization_id": j.team or "ladle",
        "result_files": [], "status": j.status, "validation_file": None,
        "training_file": j.training_files[0] if j.training_files else "",
        "hyperparameters": {"n_epochs": hp.get("epochs", "auto"), "batch_size": hp.get("batch_size", "auto"),
                            "learning_rate_multiplier": "auto"},
        "trained_tokens": j.trained_tokens if j.status == "succeeded" else None,
        "error": {"code": "training_failed", "message": j.error, "param": None} if j.error else None,
        "seed": hp.get("seed", 0), "estimated_finish": None, "integrations": [],
    }  # fmt: skip


def event_object(e: FineTuneJob, n: int) -> dict:
    if e.kind == "progress":
        return {"id": f"{e.job_id}-ev{n}", "object": "fine_tuning.job.event", "created_at": int(e.occurred_at.timestamp()),
                "level": "info", "message": e.message, "type": "metrics",
                "data": {"step": e.step, "total_steps": e.steps, "train_loss": e.loss, "tokens_per_s": e.tokens_per_s,
                         "eta_s": e.eta_s, "machine_s": e.machine_s}}  # fmt: skip
    text = f"job {e.status}" + (f": {e.error}" if e.error else f": {e.message}" if e.message else "")
    return {"id": f"{e.job_id}-ev{n}", "object": "fine_tuning.job.event", "created_at": int(e.occurred_at.timestamp()),
            "level": "error" if e.status == "failed" else "info", "message": text, "type": "message",
            "data": {"status": e.status}}  # fmt: skip


def add_routes(app: FastAPI, gateway: Gateway) -> None:
    def team_of(request: Request):
        return gateway.teams.authenticate(request.headers.get("authorization"))

    def charge(team, job: FineTuneJob) -> None:
        """A finished job's machine seconds, priced as its base model's machine time, onto the team's
        spend (once: a marker in the job's folder)."""
        marker = jobs.jobs_dir(ladle_settings()) / job.job_id / "charged"
        if job.status not in FINAL or job.machine_s <= 0 or marker.exists():
            return
        usd = gateway.pricing.cost_for(job.base_model or job.use_case, Usage(), seconds=job.machine_s) or 0.0
        marker.write_text(f"{usd}\n")
        gateway.teams.settle(team, 0.0, usd)

    def own_job(request: Request, job_id: str) -> FineTuneJob:
        team = team_of(request)
        try:
            job = jobs.load(ladle_settings(), job_id)
        except UserError:
            job = None
        if job is None or (job.team or "anonymous") != team.name:
            raise Refused(404, "not_found", f"no fine-tuning job {job_id!r}")
        charge(team, job)
        return job

    @app.post("/v1/files")
    async def upload(request: Request) -> Response:
        try:
            team_of(request)
            form = await request.form(max_part_size=MAX_FILE_BYTES)
        except Refused as exc:
            return error(exc.status, str(exc), exc.code)
        purpose, upload = form.get("purpose"), form.get("file")
        if purpose != "fine-tune":
            return error(400, "purpose must be 'fine-tune' (the only files this gateway takes)", "invalid_purpose",
                         param="purpose")  # fmt: skip
        if upload is None or isinstance(upload, str):
            return error(400, "a multipart `file` is required", "missing_file", param="file")
        data = await upload.read()
        rows, bad = parse_jsonl(data)
        if bad or not rows:
            why = str(bad[0]) if bad else "no training examples"
            more = f" (and {len(bad) - 1} more bad lines)" if len(bad) > 1 else ""
            return error(400, f"invalid training file {upload.filename}: {why}{more}", "invalid_training_file",
                         param="file")  # fmt: skip
        meta = {"id": f"file-{uuid.uuid4().hex[:24]}", "object": "file", "bytes": len(data),
                "created_at": int(time.time()), "filename": upload.filename or "training.jsonl",
                "purpose": "fine-tune", "status": "processed", "status_details": None}  # fmt: skip
        folder = files_dir(ladle_settings())
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{meta['id']}.jsonl").write_bytes(data)
        (folder / f"{meta['id']}.json").write_bytes(orjson.dumps(meta))
        return JSONResponse(meta)

    @app.post("/v1/fine_tuning/jobs")
    async def create_job(request: Request) -> Response:
        try:
            team = team_of(request)
            gateway.teams.admit(team, 0.0)  # the rate limit, and a team whose budget is spent trains nothing
            body = orjson.loads(await request.body())
        except Refused as exc:
            return error(exc.status, str(exc), exc.code)
        except orjson.JSONDecodeError:
            return error(400, "the request body is not JSON", "invalid_json")
        if not isinstance(body, dict):
            return error(400, "the request body must be a JSON object", "invalid_request")
        ladle = ladle_settings()
        model, file_id = body.get("model"), body.get("training_file")
        uc = use_cases().get(model) if isinstance(model, str) else None
        if uc is None or uc.get("engine") != "llamacpp":
            return error(400, f"model {model!r} is not a llama.cpp use case this gateway can fine-tune", "model_not_found",
                         param="model")  # fmt: skip
        path = files_dir(ladle) / f"{file_id}.jsonl"
        if not isinstance(file_id, str) or not path.is_file():
            return error(400, f"no uploaded file {file_id!r}", "file_not_found", param="training_file")
        hp = (
            body.get("hyperparameters") or (body.get("method") or {}).get("supervised", {}).get("hyperparameters") or {}
        )
        job_id = f"ftjob-{uuid.uuid4().hex[:24]}"
        argv = [sys.executable, "-m", "ladle.cli", "finetune", "create", "--use-case", model, "--training-file",
                str(path), "--job-id", job_id, "--team", team.name, "--no-gate"]  # fmt: skip
        for key, flag in (("n_epochs", "--epochs"), ("batch_size", "--batch-size")):
            if isinstance(hp.get(key), int):
                argv += [flag, str(hp[key])]
        extra = body.get("metadata") or {}
        for key, flag in (("max_steps", "--max-steps"), ("rank", "--rank"), ("merge", None)):
            if key == "merge" and extra.get("merge") == "false":
                argv.append("--no-merge")
            elif flag and str(extra.get(key, "")).isdigit():
                argv += [flag, str(extra[key])]
        if body.get("suffix"):
            argv += ["--name", str(body["suffix"])]
        # The record first (owned by the gateway until the child takes it over), then the child.
        record = FineTuneJob(job_id=job_id, status="validating_files", use_case=model, training_files=[file_id],
                             hyperparameters={"epochs": hp.get("n_epochs", 3), "batch_size": hp.get("batch_size", 8)},
                             owner=jobs.owner(), team=team.name, base_model=uc.get("model", ""))  # fmt: skip
        record = jobs.Publisher(ladle, publish=gateway.events is not None).emit(record)
        with open(jobs.jobs_dir(ladle) / job_id / "train.log", "wb") as out:
            child = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd=REPO_ROOT, start_new_session=True)
        threading.Thread(target=child.wait, daemon=True).start()  # no zombie: a dead child must look dead
        return JSONResponse(job_object(record))

    @app.get("/v1/fine_tuning/jobs")
    async def list_jobs(request: Request) -> Response:
        try:
            team = team_of(request)
        except Refused as exc:
            return error(exc.status, str(exc), exc.code)
        ladle = ladle_settings()
        jobs.reap(ladle, jobs.Publisher(ladle, publish=False))
        mine = [j for j in reversed(jobs.list_jobs(ladle)) if (j.team or "anonymous") == team.name]
        for j in mine:
            charge(team, j)
        mine = [job_object(j) for j in mine]
        return JSONResponse({"object": "list", "data": mine, "has_more": False})

    @app.get("/v1/fine_tuning/jobs/{job_id}")
    async def get_job(job_id: str, request: Request) -> Response:
        try:
            jobs.reap(ladle_settings(), jobs.Publisher(ladle_settings(), publish=False))
            return JSONResponse(job_object(own_job(request, job_id)))
        except Refused as exc:
            return error(exc.status, str(exc), exc.code)

    @app.get("/v1/fine_tuning/jobs/{job_id}/events")
    async def job_events(job_id: str, request: Request) -> Response:
        try:
            own_job(request, job_id)
        except Refused as exc:
            return error(exc.status, str(exc), exc.code)
        evs = jobs.events(ladle_settings(), job_id)
        data = [event_object(e, n) for n, e in enumerate(evs)]
        return JSONResponse({"object": "list", "data": list(reversed(data)), "has_more": False})  # newest first

    @app.get("/v1/fine_tuning/jobs/{job_id}/checkpoints")
    async def job_checkpoints(job_id: str, request: Request) -> Response:
        try:
            job = own_job(request, job_id)
        except Refused as exc:
            return error(exc.status, str(exc), exc.code)
        data = []
        if job.status == "succeeded" and job.fine_tuned_model:
            data.append({"id": f"{job_id}-ckpt-final", "object": "fine_tuning.job.checkpoint",
                         "created_at": int(job.occurred_at.timestamp()), "fine_tuned_model_checkpoint":
                         job.fine_tuned_model, "fine_tuning_job_id": job_id, "step_number": job.step,
                         "metrics": {"step": job.step, "train_loss": job.loss}})  # fmt: skip
        first = data[0]["id"] if data else None
        return JSONResponse({"object": "list", "data": data, "has_more": False, "first_id": first, "last_id": first})

    @app.post("/v1/fine_tuning/jobs/{job_id}/cancel")
    async def cancel_job(job_id: str, request: Request) -> Response:
        try:
            own_job(request, job_id)
            job = jobs.cancel(ladle_settings(), job_id, jobs.Publisher(ladle_settings(), publish=False))
        except Refused as exc:
            return error(exc.status, str(exc), exc.code)
        except UserError as exc:
            return error(400, str(exc), "job_finished")
        return JSONResponse(job_object(job))
