"""Reading topics to their end for `ladle check`.

The end offsets are taken once at the start (a snapshot), every partition is read
from its first offset to that end with ``assign`` (no group, nothing committed),
and each message is decoded exactly as the workers decode it (``codec.decode``):
what a worker dead-letters as malformed is no expectation of anything downstream.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import structlog
from confluent_kafka import KafkaException

from shared.kafka import read
from shared.runtime import codec
from shared.runtime.errors import BadMessage, UserError
from shared.runtime.worker import Record
from shared.settings import LadleSettings
from topics.registry import TOPICS, Namespace

log = structlog.get_logger(__name__)

Handler = Callable[[Record], None]
Progress = Callable[[int, int], None]  # (messages read, messages in the snapshot)


class Unreachable(UserError):
    """A part `ladle check` must read does not answer or does not exist (exit 2)."""


@dataclass
class TopicRead:
    topic: str  # logical name
    messages: int = 0
    invalid: int = 0  # not decodable: the consuming worker dead-letters these itself
    truncated: bool = False  # retention deleted the topic's start: older events are gone from it


def read_topics(
    settings: LadleSettings,
    handlers: dict[str, list[Handler]],
    progress: Progress | None = None,
    stall_s: float = 60.0,
) -> dict[str, TopicRead]:
    """Every message of these logical topics up to their ends now, decoded, passed to each of the topic's handlers."""
    ns = Namespace(settings.topic_prefix)
    stats = {t: TopicRead(t) for t in handlers}
    try:
        r = read.TopicReader(read.reader(settings, "check"), [ns.physical(t) for t in handlers])
    except read.MissingTopic as exc:
        raise Unreachable(str(exc)) from None
    except KafkaException as exc:
        raise Unreachable(f"Kafka at {settings.kafka_bootstrap}: {exc.args[0].str() if exc.args else exc}") from None
    for t in handlers:
        stats[t].truncated = ns.physical(t) in r.truncated
    try:
        ends = r.ends()
        total, done = r.remaining(ends), 0

        def on_batch(msgs) -> None:
            nonlocal done
            for m in msgs:
                if read.past_end(m, ends):
                    continue
                done += 1
                topic = ns.logical(m.topic())
                st = stats[topic]
                st.messages += 1
                try:
                    rec = codec.decode(TOPICS[topic], topic, m.partition(), m.offset(), m.key(), m.value())
                except BadMessage:
                    st.invalid += 1
                    continue
                for h in handlers[topic]:
                    h(rec)
            if progress is not None:
                progress(done, total)

        r.read_to_end(on_batch, ends, stall_s=stall_s)
    except read.ReadStalled as exc:
        raise Unreachable(str(exc)) from None
    except KafkaException as exc:
        raise Unreachable(f"Kafka at {settings.kafka_bootstrap}: {exc.args[0].str() if exc.args else exc}") from None
    finally:
        r.close()
    for s in stats.values():
        log.info("check.topic_read", topic=s.topic, messages=s.messages, invalid=s.invalid, truncated=s.truncated)
    return stats
