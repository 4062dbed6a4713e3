"""`ladle report quality`: evaluation runs from ClickHouse as a page: each field's score over
the runs of a use case, and the confusion matrix of a `one` field in the latest run."""

from __future__ import annotations

from collections.abc import Callable

from shared.charts import heatmap, line_chart, page, table
from shared.runtime.errors import UserError

Query = Callable[[str, dict], object]  # (sql, parameters) -> QueryRows

RUNS_SQL = """
SELECT run_id, dataset, toString(started_at) AS started, prompt_name, prompt_version, model, cascade, adapter,
       items, metric_fields, metric_names, metric_values
FROM eval_runs FINAL
WHERE use_case = %(use_case)s AND started_at >= now() - toIntervalDay(%(days)s)
ORDER BY started_at
"""
CONFUSION_SQL = """
SELECT expected[%(field)s][1] AS expected_value,
       if(answered AND length(predicted[%(field)s]) > 0, predicted[%(field)s][1], '(no answer)') AS answered_value,
       count() AS items
FROM eval_items FINAL
WHERE run_id = %(run_id)s AND mapContains(expected, %(field)s)
GROUP BY expected_value, answered_value
ORDER BY expected_value, answered_value
"""


def render(query: Query, use_case: str, days: int = 30, field: str | None = None, one_fields: list[str] = ()) -> str:
    runs = query(RUNS_SQL, {"use_case": use_case, "days": days})
    if not runs.rows:
        raise UserError(f"no evaluation runs of {use_case!r} in the last {days} days in ClickHouse "
                        "(`ladle eval run` publishes them; the sink lands them)")  # fmt: skip
    idx = {c: i for i, c in enumerate(runs.columns)}
    labels, per_field = [], {}
    for r in runs.rows:
        labels.append(f"{r[idx['started']][5:16]} {r[idx['prompt_name']]}@{r[idx['prompt_version']]}")
        scores = {(f, m): v for f, m, v in zip(r[idx["metric_fields"]], r[idx["metric_names"]],
                                                r[idx["metric_values"]], strict=True)}  # fmt: skip
        for (f, metric), v in scores.items():
            if metric == "macro_f1":
                per_field.setdefault(f, [None] * len(runs.rows))[len(labels) - 1] = v
    body = [line_chart(labels, per_field, f"{use_case}: macro-F1 per field over runs", y_max=1.0)]
    latest = runs.rows[-1]
    field = field or next(iter(one_fields), None)
    if field:
        conf = query(CONFUSION_SQL, {"run_id": latest[idx["run_id"]], "field": field})
        rows = sorted({r[0] for r in conf.rows})
        cols = sorted({r[1] for r in conf.rows})
        counts = [[0.0] * len(cols) for _ in rows]
        for e, a, n in conf.rows:
            counts[rows.index(e)][cols.index(a)] = float(n)
        body.append(heatmap(rows, cols, counts, f"{field} in run {latest[idx['run_id']]}: expected (rows) vs answered"))
    body.append(table(["run", "dataset", "started", "prompt", "model", "cascade", "adapter", "items", "macro-F1"],
                      [[r[idx["run_id"]], r[idx["dataset"]], r[idx["started"]],
                        f"{r[idx['prompt_name']]}@{r[idx['prompt_version']]}", r[idx["model"]], r[idx["cascade"]],
                        r[idx["adapter"]], r[idx["items"]], per_field.get("all", [None] * len(runs.rows))[i]]
                       for i, r in enumerate(runs.rows)]))  # fmt: skip
    return page(f"Ladle quality: {use_case}", "".join(body))
