"""The topics the sink reads: every analytics topic and every dead-letter topic."""

from __future__ import annotations

from workers.sink.tables import DLQ_SUFFIX, TOPIC_TABLES

ANALYTICS_TOPICS = list(TOPIC_TABLES)


def sink_topics() -> list[str]:
    from topics.registry import TOPICS

    return ANALYTICS_TOPICS + sorted(t for t in TOPICS if t.endswith(DLQ_SUFFIX))
