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
def test_hostile_json_documents_are_a_bad_message_never_a_crash(doc):
    import json

    data = json.dumps(doc).encode()
    try:
        codec.decode(SPEC, "catalog.changes", 0, 0, str(doc.get("item_id")).encode(), data)
    except BadMessage:
        pass


@pytest.mark.parametrize("version", [-(10**12), 0.5, "1", 10**30])
def test_absurd_schema_versions_are_refused_quickly(version):
    import json

    doc = {"op": "delete", "item_id": "i1", "version": 1, "schema_version": version}
    try:
        codec.decode(SPEC, "catalog.changes", 0, 0, b"i1", json.dumps(doc).encode())
    except BadMessage:
        pass


def test_dlq_topics_accept_messages_without_a_key():
    dl = codec.dead_letter(
        topic="catalog.changes", partition=0, offset=3, key=None, raw=b"x", exc=ValueError("e"), worker="w"
    )
    r = codec.decode(spec("catalog.changes.dlq"), "catalog.changes.dlq", 0, 0, None, codec.encode(dl))
    assert r.key is None and r.value.original_offset == 3
