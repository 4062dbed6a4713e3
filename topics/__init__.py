"""The topic registry (`registry`) and `apply`, which makes the broker match it."""

from topics.registry import DLQ_SUFFIX, TOPICS, Namespace, TopicSpec, key_of, spec

__all__ = ["DLQ_SUFFIX", "TOPICS", "Namespace", "TopicSpec", "key_of", "spec"]
