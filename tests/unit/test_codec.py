import base64

import pytest

from schemas import CatalogChange, CatalogItem
from shared.runtime import codec
from topics.registry import spec

SPEC = spec("catalog.changes")


def raw(item_id="i1"):
    c = CatalogChange(
        op="upsert", item_id=item_id, version=1, item=CatalogItem(item_id=item_id, store_id="s", name="n", price=1)
    )
    return codec.encode(c)


@pytest.mark.parametrize(
    "key,value,cls",
    [
        (b"i1", b"{oops", codec.NotJSON),
        (b"i1", b'{"op":"upsert","item_id":"i1","version":1}', codec.SchemaInvalid),
        (None, raw(), codec.MissingKey),
        (b"\xff\xfe", raw(), codec.MissingKey),
        (b"other", raw(), codec.KeyMismatch),
        (b"i1", None, codec.SchemaInvalid),
    ],
)
def test_each_bad_message_gets_its_own_reason(key, value, cls):
    with pytest.raises(cls) as info:
        codec.decode(SPEC, "catalog.changes", 0, 5, key, value)
    assert "\n" not in str(info.value) and str(info.value)


def test_a_good_message_decodes_to_a_record():
    r = codec.decode(SPEC, "catalog.changes", 2, 9, b"i1", raw())
    assert (r.topic, r.partition, r.offset, r.key) == ("catalog.changes", 2, 9, "i1")
    assert isinstance(r.value, CatalogChange)


def test_dead_letters_keep_the_raw_bytes_and_truncate_huge_ones():
    big = b"x" * (codec.DLQ_RAW_LIMIT + 10)
    dl = codec.dead_letter(topic="t", partition=0, offset=1, key="k", raw=big, exc=ValueError("bad\nthing"), worker="w")
    assert dl.truncated and dl.raw_size == len(big)
    assert base64.b64decode(dl.raw_value_b64) == big[: codec.DLQ_RAW_LIMIT]
    assert dl.error_class == "ValueError" and dl.error_message == "bad thing"


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from shared.runtime.errors import BadMessage  # noqa: E402

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(key=st.one_of(st.none(), st.binary(max_size=40)), value=st.one_of(st.none(), st.binary(max_size=400)))
def test_hostile_bytes_are_a_bad_message_never_a_crash(key, value):
    try:
        codec.decode(SPEC, "catalog.changes", 0, 0, key, value)
    except BadMessage as exc:
        assert "\n" not in str(exc)


@settings(max_examples=300, deadline=None)
@given(
    doc=st.dictionaries(
        st.sampled_from(["op", "item_id", "version", "item", "schema_version", "occurred_at", "x"]), json_values
    )
)
def test_hostile_json_documents_decode_exactly_when_the_model_accepts_them(doc):
    import json

    from pydantic import ValidationError

    data = json.dumps(doc).encode()
    key = str(doc.get("item_id"))
    try:
        expected = CatalogChange.from_json(data)
    except (ValidationError, ValueError, TypeError):
        expected = None
    try:
        rec = codec.decode(SPEC, "catalog.changes", 0, 0, key.encode(), data)
    except BadMessage as exc:
        assert "\n" not in str(exc) and str(exc)
        if expected is None:
            assert isinstance(exc, codec.SchemaInvalid), exc
        else:  # the document is a valid change, so only its key can be wrong
            assert isinstance(exc, codec.KeyMismatch) and expected.item_id != key, exc
        return
    assert expected is not None, f"accepted a document the model refuses: {doc!r}"
    assert rec.key == key == rec.value.item_id
    assert rec.value.model_dump(exclude={"event_id", "occurred_at"}) == expected.model_dump(
        exclude={"event_id", "occurred_at"}
    )


class CountedUpgrades(dict):
    """A fake UPGRADES table (unit tests only) that counts the steps the upgrade walk takes."""

    steps = 0

    def get(self, version, default=None):
        CountedUpgrades.steps += 1
        return super().get(version, default)


@pytest.fixture
def three_versions(monkeypatch):
    """CatalogChange as if its schema were at version 3, with two (identity) upgrade steps."""
    CountedUpgrades.steps = 0
    monkeypatch.setattr(CatalogChange, "SCHEMA_VERSION", 3)
    monkeypatch.setattr(CatalogChange, "UPGRADES", CountedUpgrades({1: dict, 2: dict}))


def _decode_version(version):
    import json

    doc = {"op": "delete", "item_id": "i1", "version": 1, "schema_version": version}
    return codec.decode(SPEC, "catalog.changes", 0, 0, b"i1", json.dumps(doc).encode())


@pytest.mark.parametrize("version", [-(10**12), -1, 0.5, "1", None, [1]])
def test_impossible_schema_versions_are_refused_before_any_upgrade_step(three_versions, version):
    with pytest.raises(codec.SchemaInvalid, match="schema_version"):
        _decode_version(version)
    assert CountedUpgrades.steps == 0


@pytest.mark.parametrize("version,steps", [(1, 2), (2, 1), (3, 0), (4, 0), (10**30, 0)])
def test_old_versions_take_one_step_each_and_newer_ones_none(three_versions, version, steps):
    rec = _decode_version(version)
    assert rec.value.item_id == "i1" and CountedUpgrades.steps == steps
    assert rec.value.schema_version == max(version, 3)


def test_dlq_topics_accept_messages_without_a_key():
    dl = codec.dead_letter(
        topic="catalog.changes", partition=0, offset=3, key=None, raw=b"x", exc=ValueError("e"), worker="w"
    )
    r = codec.decode(spec("catalog.changes.dlq"), "catalog.changes.dlq", 0, 0, None, codec.encode(dl))
    assert r.key is None and r.value.original_offset == 3
