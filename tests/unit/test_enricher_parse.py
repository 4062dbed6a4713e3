"""Parsing model output: repairs, and malformed output named as such."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.settings import REPO_ROOT
from shared.taxonomy import Taxonomy
from tests.unit.enricher_fakes import GOOD
from workers.enricher.parse import MalformedOutput, close_truncated, extract_json, parse_output

TAX = Taxonomy.load(REPO_ROOT / "deploy" / "enricher" / "taxonomy.yaml")


@pytest.mark.parametrize(
    "raw",
    [
        json.dumps(GOOD),
        "Here are the tags:\n```json\n" + json.dumps(GOOD, indent=2) + "\n```\nHope it helps!",
        json.dumps(GOOD) + " and some trailing words {",
        json.dumps(GOOD)[:-1] + ",}",  # trailing comma
        json.dumps(GOOD).replace('"savory"]', '"savory", "sav'),  # cut off inside the last list
    ],
)
def test_repairable_outputs_give_the_tags(raw):
    assert parse_output(raw, TAX) == GOOD


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty output"),
        ("I cannot tag this item.", "no JSON object"),
        ('{"cuisine": "italian", "dish_type": "piz', "missing field"),
        (json.dumps(GOOD | {"cuisine": "martian"}), "taxonomy"),
        ("[1, 2, 3]", "no JSON object"),
    ],
)
def test_malformed_outputs_say_why(raw, reason):
    with pytest.raises(MalformedOutput, match=reason):
        parse_output(raw, TAX)


def test_close_truncated_drops_the_half_written_value():
    assert close_truncated('{"a": ["x", "y') == '{"a": ["x"]}'
    assert close_truncated('{"a": "x", "b":') == '{"a": "x"}'
    assert close_truncated('{"a": {"b": "c"}, "d": [') == '{"a": {"b": "c"}, "d": []}'
    assert close_truncated('{"a": "say \\"hi') == "{}"
    assert extract_json('{"a": "x", "b": ["q"') == {"a": "x", "b": ["q"]}


@settings(max_examples=300, deadline=None)
@given(cut=st.integers(min_value=0, max_value=len(json.dumps(GOOD))), noise=st.sampled_from(["", "```", "\n", "}]"]))
def test_any_truncation_either_parses_to_valid_tags_or_is_malformed(cut, noise):
    raw = json.dumps(GOOD)[:cut] + noise
    try:
        tags = parse_output(raw, TAX)
    except MalformedOutput:
        return
    assert TAX.check(tags) == tags
