"""Make the broker match the registry: create what is missing, alter configs that differ.

Never deletes a topic and never lowers a partition count (both lose data or
reorder keys); those differences are reported as warnings for a person.
"""

from __future__ import annotations

from dataclasses import dataclass

from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewPartitions,
    NewTopic,
    ResourceType,
)

from topics.registry import TOPICS, Namespace, TopicSpec

TIMEOUT_S = 30


@dataclass(frozen=True)
class Change:
    topic: str  # physical name
    kind: str  # create | alter | partitions | ok | warn
    detail: str = ""
    spec: TopicSpec | None = None
    configs: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class BrokerTopic:
    partitions: int
    replication_factor: int
    configs: dict[str, str]


def describe(admin: AdminClient, names: list[str]) -> dict[str, BrokerTopic]:
    """What the broker has of these topics (missing ones are left out)."""
    meta = admin.list_topics(timeout=TIMEOUT_S)
    present = [n for n in names if n in meta.topics and not meta.topics[n].error]
    if not present:
        return {}
    futures = admin.describe_configs([ConfigResource(ResourceType.TOPIC, n) for n in present])
    out = {}
    for resource, fut in futures.items():
        entries = fut.result(timeout=TIMEOUT_S)
        t = meta.topics[resource.name]
        rf = len(next(iter(t.partitions.values())).replicas) if t.partitions else 0
        out[resource.name] = BrokerTopic(len(t.partitions), rf, {k: e.value for k, e in entries.items()})
    return out


def plan(admin: AdminClient, ns: Namespace = Namespace(), specs: dict[str, TopicSpec] = TOPICS) -> list[Change]:
    names = {ns.physical(n): s for n, s in specs.items()}
    have = describe(admin, list(names))
    changes = []
    for name, s in sorted(names.items()):
        b = have.get(name)
        if b is None:
            changes.append(Change(name, "create", f"{s.partitions} partitions, rf {s.replication_factor}", s))
            continue
        diff = tuple((k, v) for k, v in sorted(s.configs().items()) if b.configs.get(k) != v)
        if diff:
            shown = ", ".join(f"{k}: {b.configs.get(k)} -> {v}" for k, v in diff)
            changes.append(Change(name, "alter", shown, s, diff))
        if b.partitions < s.partitions:
            changes.append(Change(name, "partitions", f"{b.partitions} -> {s.partitions}", s))
        elif b.partitions > s.partitions:
            changes.append(
                Change(name, "warn", f"broker has {b.partitions} partitions, registry {s.partitions}; never lowered")
            )
        if b.replication_factor != s.replication_factor:
            changes.append(
                Change(
                    name,
                    "warn",
                    f"replication factor {b.replication_factor}, registry {s.replication_factor}; not changed",
                )
            )
        if not diff and b.partitions == s.partitions:
            changes.append(Change(name, "ok"))
    return changes


def apply(admin: AdminClient, changes: list[Change]) -> None:
    """Carry out a plan; raises on the first broker error."""
    creates = [
        NewTopic(c.topic, c.spec.partitions, c.spec.replication_factor, config=c.spec.configs())
        for c in changes
        if c.kind == "create"
    ]
    if creates:
        for fut in admin.create_topics(creates, operation_timeout=TIMEOUT_S).values():
            fut.result(timeout=TIMEOUT_S)
        wait_for_leaders(admin, [t.topic for t in creates])
    alters = [
        ConfigResource(
            ResourceType.TOPIC,
            c.topic,
            incremental_configs=[ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET) for k, v in c.configs],
        )
        for c in changes
        if c.kind == "alter"
    ]
    if alters:
        for fut in admin.incremental_alter_configs(alters).values():
            fut.result(timeout=TIMEOUT_S)
    grows = [NewPartitions(c.topic, c.spec.partitions) for c in changes if c.kind == "partitions"]
    if grows:
        for fut in admin.create_partitions(grows, operation_timeout=TIMEOUT_S).values():
            fut.result(timeout=TIMEOUT_S)


def wait_for_leaders(admin: AdminClient, names: list[str], timeout_s: float = TIMEOUT_S) -> None:
    """A created topic answers only once every partition has a leader; wait for that."""
    import time

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        topics = admin.list_topics(timeout=TIMEOUT_S).topics
        if all(n in topics and topics[n].partitions and all(p.leader >= 0 for p in topics[n].partitions.values())
               for n in names):  # fmt: skip
            return
        time.sleep(0.1)
    raise TimeoutError(f"topics without partition leaders after {timeout_s}s: {names}")


def ensure(admin: AdminClient, ns: Namespace = Namespace(), specs: dict[str, TopicSpec] = TOPICS) -> list[Change]:
    changes = plan(admin, ns, specs)
    apply(admin, changes)
    return changes
