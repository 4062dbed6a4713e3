from collections import Counter

import pytest

from shared.prompts.model import (
    PromptError,
    assign_label,
    declared,
    diff,
    render,
    resolve,
    with_ab,
    with_label,
    with_version,
)


def base():
    s = with_version(None, "tag", "Tag this item: {name}\n{description}", model="fast", parameters={"temperature": 0})
    s = with_label(s, "production", 1)
    s = with_version(s, "tag", "Tag this menu item.\nName: {name}\nText: {description}")
    return with_label(s, "staging", 2)


def test_versions_are_immutable_and_numbered_and_each_change_is_a_new_revision():
    s = base()
    assert [v.version for v in s.versions] == [1, 2]
    assert s.versions[0].template.startswith("Tag this item")
    assert s.labels == {"production": 1, "staging": 2}
    assert s.revision == 4
    assert len({s.event_id, with_label(s, "production", 2).event_id}) == 2


def test_undeclared_variables_and_unknown_versions_are_refused():
    assert declared("{a} and {b} and {a}") == ["a", "b"]
    with pytest.raises(PromptError, match="undeclared"):
        with_version(None, "p", "{a} {b}", variables=["a"])
    with pytest.raises(PromptError, match="no version 9"):
        with_label(base(), "production", 9)
    with pytest.raises(PromptError, match="bad label"):
        with_label(base(), "Prod!", 1)


def test_render_needs_every_variable():
    _, v = resolve(base(), "production")
    assert render(v, {"name": "Pad Thai", "description": "rice noodles"}) == "Tag this item: Pad Thai\nrice noodles"
    with pytest.raises(PromptError, match="description"):
        render(v, {"name": "x"})


def test_ab_assignment_is_sticky_and_follows_the_weights():
    s = with_ab(base(), {"production": 0.8, "staging": 0.2})
    users = [f"user-{i}" for i in range(20_000)]
    first = [assign_label(s, u) for u in users]
    assert first == [assign_label(s, u) for u in users]  # sticky
    share = Counter(first)["staging"] / len(users)
    assert abs(share - 0.2) < 0.015  # 20k draws: sd ~0.003
    assert resolve(s, None, "user-1")[0] in ("production", "staging")
    assert assign_label(with_ab(s, {}), "anyone") == "production"
    with pytest.raises(PromptError, match="no label"):
        with_ab(s, {"canary": 1})


def test_diff_shows_the_changed_lines():
    d = diff(base(), 1, 2)
    assert "-Tag this item: {name}" in d and "+Name: {name}" in d
