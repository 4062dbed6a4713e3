"""Whether each stage's worker has caught up: a group that has not committed everything it
was given may still be producing what the check calls missing. Said in a note, never a
verdict; a group that never committed (the worker is not deployed) says nothing."""

from __future__ import annotations

from shared.kafka.lag import group_lag
from shared.settings import LadleSettings


def _groups(stages: list[str]) -> list[tuple[str, str, str, list[str]]]:
    """(stage, worker, group, input topics)."""
    out = []
    if "index" in stages:
        from workers.embedder.settings import EmbedderSettings

        es = EmbedderSettings()
        out.append(("index", "embedder", es.group_id or "ladle.embedder", [es.input_topic]))
    if "enrichment" in stages:
        from workers.enricher.settings import EnricherSettings

        ens = EnricherSettings()
        out.append(("enrichment", "enricher", ens.group_id or "ladle.enricher", [ens.input_topic]))
    if "guardrails" in stages:
        from workers.guardrails.settings import GuardrailsSettings

        out.append(("guardrails", "guardrails", GuardrailsSettings().group_id, ["enrichment.results"]))
    if "clickhouse" in stages:
        from workers.sink.inputs import sink_topics
        from workers.sink.service import SinkWorkerSettings

        out.append(("clickhouse", "sink", SinkWorkerSettings().group_id or "ladle.sink", sink_topics()))
    return out


def lag_notes(ladle: LadleSettings, stages: list[str]) -> dict[str, list[str]]:
    notes: dict[str, list[str]] = {}
    for stage, worker, group, topics in _groups(stages):
        found = group_lag(ladle, group, topics)
        lag = found.lag if found is not None and found.committed else 0
        if lag:
            notes.setdefault(stage, []).append(
                f"the {worker}'s group {group} has {lag:,} messages left to commit: findings may still be in flight"
            )
    return notes
