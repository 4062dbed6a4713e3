"""Kafka message <-> validated event, and the one-line reasons a message is refused."""

from __future__ import annotations

import base64

from pydantic import BaseModel, ValidationError

from schemas import DeadLetter, Event
from shared.runtime.errors import BadMessage
from shared.runtime.worker import Record
from topics.registry import TopicSpec, key_of

DLQ_RAW_LIMIT = 1_000_000  # bytes of the original kept in a dead letter


class NotJSON(BadMessage):
    pass


class SchemaInvalid(BadMessage):
    pass


class MissingKey(BadMessage):
    pass


class KeyMismatch(BadMessage):
    pass


class OutputTooLarge(BadMessage):
    pass


def one_line(exc: BaseException) -> str:
    """A validation error as one line a person can act on."""
    if isinstance(exc, ValidationError):
        parts = []
        for err in exc.errors(include_url=False)[:5]:
            loc = ".".join(str(p) for p in err.get("loc", ())) or "value"
            parts.append(f"{loc}: {err['msg']}")
        more = exc.error_count() - len(parts)
        return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")
    return " ".join(str(exc).split()) or type(exc).__name__


def validate(spec: TopicSpec, raw: bytes) -> Event:
    try:
        return spec.value_model.from_json(raw)
    except ValidationError as exc:
        if any(e["type"] == "json_invalid" for e in exc.errors()):
            raise NotJSON(f"not JSON: {one_line(exc)}") from None
        raise SchemaInvalid(f"invalid {spec.value_model.__name__}: {one_line(exc)}") from None
    except (ValueError, TypeError) as exc:  # an upgrade step refused an old payload
        raise SchemaInvalid(f"invalid {spec.value_model.__name__}: {one_line(exc)}") from None


def decode(spec: TopicSpec, topic: str, partition: int, offset: int, key: bytes | None, raw: bytes | None) -> Record:
    if raw is None:
        raise SchemaInvalid("empty value (a tombstone) on a topic that needs a value")
    if key is None:
        if spec.key_required:
            raise MissingKey(f"message has no key; {spec.name} is keyed by {spec.key_field}")
        return Record(topic, partition, offset, None, validate(spec, raw), raw)
    try:
        skey = key.decode("utf-8")
    except UnicodeDecodeError:
        raise MissingKey("key is not UTF-8") from None
    value = validate(spec, raw)
    expected = key_of(spec, value)
    if expected != skey:
        raise KeyMismatch(f"key {skey[:80]!r} differs from the value's {spec.key_field} {str(expected)[:80]!r}")
    return Record(topic, partition, offset, skey, value, raw)


def encode(value: BaseModel) -> bytes:
    return value.__pydantic_serializer__.to_json(value)


def error_class(exc: BaseException) -> str:
    return type(exc).__name__


TRACE_ID_LIMIT = 256


def dead_letter(
    *,
    topic: str,
    partition: int,
    offset: int,
    key: str | None,
    raw: bytes | None,
    exc: BaseException,
    worker: str,
    source: str = "",
    trace_id: str | None = None,
) -> DeadLetter:
    raw = raw or b""
    kept = raw[:DLQ_RAW_LIMIT]
    return DeadLetter(
        original_topic=topic,
        original_partition=partition,
        original_offset=offset,
        original_key=key,
        error_class=error_class(exc),
        error_message=one_line(exc)[:2000],
        raw_value_b64=base64.b64encode(kept).decode("ascii"),
        raw_size=len(raw),
        truncated=len(kept) < len(raw),
        worker=worker,
        source=source,
        trace_id=trace_id[:TRACE_ID_LIMIT] if trace_id else trace_id,  # a hostile trace_id must not outgrow the DLQ
    )
