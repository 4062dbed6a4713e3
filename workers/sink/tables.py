"""Which topic lands in which table, with the Arrow type of every column.

The column lists match deploy/clickhouse/0001_raw_tables.sql minus `ingested_at`,
which ClickHouse fills in. A unit test keeps the mappers in `rows.py` in step with
these lists; an integration test keeps them in step with the tables.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from workers.sink import rows
from workers.sink.costing import RowContext

DLQ_SUFFIX = ".dlq"
S, LS, F64 = pa.string(), pa.list_(pa.string()), pa.float64()
MONEY = pa.decimal128(18, 9)
TS = pa.timestamp("ms", tz="UTC")
SMAP = pa.map_(pa.string(), pa.string())
ENVELOPE = [("event_id", S), ("occurred_at", TS), ("schema_version", pa.uint16()), ("trace_id", S)]
PROMPT = [("prompt_name", S), ("prompt_version", pa.uint32()), ("prompt_label", S)]
USAGE = [("input_tokens", pa.uint64()), ("output_tokens", pa.uint64()), ("cached_input_tokens", pa.uint64())]
COST = [("cost_usd", MONEY), ("cost_source", S), ("pricing_version", S)]


@dataclass(frozen=True)
class TableSpec:
    table: str
    columns: Sequence[tuple[str, pa.DataType]]
    to_row: Callable[[object, RowContext], tuple]

    @property
    def names(self) -> list[str]:
        return [n for n, _ in self.columns]

    def to_arrow(self, batch: list[tuple]) -> pa.Table:
        """Rows -> one Arrow table; raises (ArrowInvalid, OverflowError, ...) on a bad value."""
        columns = list(zip(*batch, strict=True)) if batch else [()] * len(self.columns)
        arrays = []
        for (_, type_), values in zip(self.columns, columns, strict=True):
            if type_ == MONEY:  # float dollars -> exact nano-dollars
                arrays.append(pc.round(pa.array(values, F64), 9).cast(MONEY, safe=False))
            else:
                arrays.append(pa.array(values, type_))
        return pa.Table.from_arrays(arrays, names=self.names)


LLM_CALLS = TableSpec(
    "llm_calls",
    [*ENVELOPE, ("call_id", S), ("team", S), ("use_case", S), ("model", S), ("deployment", S), ("provider", S),
     *PROMPT, *USAGE, *COST, ("latency_ms", F64), ("ttft_ms", F64), ("cache_status", S), ("fallback_chain", LS),
     ("status", S), ("error", S), ("request_body", S), ("response_body", S), ("semantic_score", F64),
     ("semantic_verifier_score", F64), ("semantic_verdict", S)],
    rows.llm_call_row,
)  # fmt: skip
ENRICHMENT_RESULTS = TableSpec(
    "enrichment_results",
    [*ENVELOPE, ("item_id", S), ("item_version", pa.uint64()), ("task", S), ("tags", LS), ("attributes", SMAP),
     ("output_json", S), ("raw_output", S), ("engine", S), ("model", S), *PROMPT, *USAGE,
     ("latency_ms", F64), ("ttft_ms", F64), *COST, ("attempts", pa.uint16()), ("mode", S), ("cascade", S),
     ("answered_by", SMAP)],
    rows.enrichment_result_row,
)  # fmt: skip
GUARDED_RESULTS = TableSpec(
    "guarded_results",
    [*ENVELOPE, ("route", S), ("result_event_id", S), ("item_id", S), ("item_version", pa.uint64()), ("task", S),
     ("model", S), ("prompt_name", S), ("prompt_version", pa.uint32()), ("tags", LS), ("attributes", SMAP),
     ("verdict_event_id", S), ("policy", S), ("policy_version", S), ("action", S), ("failed_checks", LS)],
    rows.guarded_result_row,
)  # fmt: skip
GUARDRAIL_VERDICTS = TableSpec(
    "guardrail_verdicts",
    [*ENVELOPE, ("subject_id", S), ("subject_kind", S), ("policy", S), ("policy_version", S), ("action", S),
     ("latency_ms", F64), ("team", S), ("use_case", S), ("check_names", LS), ("check_passed", pa.list_(pa.bool_())),
     ("check_scores", pa.list_(F64)), ("check_actions", LS), ("check_details", LS), ("check_latency_ms", pa.list_(F64))],
    rows.guardrail_verdict_row,
)  # fmt: skip
CATALOG_EMBEDDED = TableSpec(
    "catalog_embedded",
    [*ENVELOPE, ("op", S), ("item_id", S), ("version", pa.uint64()), ("model", S), ("collection", S),
     ("content_hash", S), ("skipped", pa.bool_()), ("freshness_ms", F64), ("embedded_at", TS)],
    rows.catalog_embedded_row,
)  # fmt: skip
DEAD_LETTERS = TableSpec(
    "dead_letters",
    [*ENVELOPE, ("dlq_topic", S), ("original_topic", S), ("original_partition", pa.int32()),
     ("original_offset", pa.int64()), ("original_key", S), ("error_class", S), ("error_message", S),
     ("raw_value_b64", S), ("raw_size", pa.uint64()), ("truncated", pa.bool_()), ("worker", S), ("source", S)],
    rows.dead_letter_row,
)  # fmt: skip

EVAL_RUNS = TableSpec(
    "eval_runs",
    [*ENVELOPE, ("run_id", S), ("use_case", S), ("task", S), ("dataset", S), ("dataset_sha256", S),
     ("prompt_name", S), ("prompt_version", pa.uint32()), ("model", S), ("engine", S), ("cascade", S),
     ("adapter", S), ("items", pa.uint32()), ("failed_rows", pa.uint32()), ("metric_fields", LS),
     ("metric_names", LS), ("metric_values", pa.list_(F64)), ("started_at", TS), ("seconds", F64),
     ("cost_usd", MONEY), ("status", S)],
    rows.eval_run_row,
)  # fmt: skip
EVAL_ITEMS = TableSpec(
    "eval_items",
    [*ENVELOPE, ("run_id", S), ("row", pa.uint32()), ("item_id", S), ("expected", pa.map_(S, LS)),
     ("predicted", pa.map_(S, LS)), ("answered", pa.bool_()), ("correct", pa.map_(S, pa.bool_())), ("route", S),
     ("answered_by", SMAP), ("llm_calls", pa.uint16()), ("latency_ms", F64), ("cost_usd", MONEY), ("error", S)],
    rows.eval_item_row,
)  # fmt: skip

REVIEW_DECISIONS = TableSpec(
    "review_decisions",
    [*ENVELOPE, ("reviewer", S), ("decided_at", TS), ("action", S), ("item_id", S), ("item_version", pa.uint64()),
     ("task", S), ("result_event_id", S), ("guarded_event_id", S), ("route", S), ("before_json", S), ("after_json", S),
     ("changed_fields", LS), ("failed_checks", LS), ("note", S)],
    rows.review_decision_row,
)  # fmt: skip

FINETUNE_JOBS = TableSpec(
    "finetune_jobs",
    [*ENVELOPE, ("job_id", S), ("kind", S), ("status", S), ("use_case", S), ("base_model", S), ("training_files", LS),
     ("hyperparameters", S), ("fine_tuned_model", S), ("step", pa.uint32()), ("steps", pa.uint32()), ("loss", F64),
     ("trained_tokens", pa.uint64()), ("tokens_per_s", F64), ("eta_s", F64), ("machine_s", F64), ("message", S),
     ("error", S), ("owner", S), ("team", S)],
    rows.finetune_job_row,
)  # fmt: skip

TABLES = [LLM_CALLS, ENRICHMENT_RESULTS, GUARDED_RESULTS, GUARDRAIL_VERDICTS, CATALOG_EMBEDDED, DEAD_LETTERS,
          EVAL_RUNS, EVAL_ITEMS, REVIEW_DECISIONS, FINETUNE_JOBS]  # fmt: skip
TOPIC_TABLES: dict[str, TableSpec] = {
    "llm.calls": LLM_CALLS,
    "enrichment.results": ENRICHMENT_RESULTS,
    "enrichment.accepted": GUARDED_RESULTS,
    "enrichment.review": GUARDED_RESULTS,
    "enrichment.rejected": GUARDED_RESULTS,
    "guardrail.verdicts": GUARDRAIL_VERDICTS,
    "catalog.embedded": CATALOG_EMBEDDED,
    "eval.runs": EVAL_RUNS,
    "eval.items": EVAL_ITEMS,
    "review.decisions": REVIEW_DECISIONS,
    "finetune.jobs": FINETUNE_JOBS,
}


def table_for(topic: str) -> TableSpec | None:
    """The table a logical topic lands in; every `<topic>.dlq` lands in dead_letters."""
    return DEAD_LETTERS if topic.endswith(DLQ_SUFFIX) else TOPIC_TABLES.get(topic)
