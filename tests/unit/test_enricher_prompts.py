"""Versioned prompt templates: resolution by label and version, declared variables, rendering."""

from __future__ import annotations

import pytest
import yaml

from schemas import PromptState, PromptVersion
from shared.prompts.sources import FilePromptSource, Prompt, resolve
from shared.runtime.errors import UserError
from shared.settings import REPO_ROOT


def write(folder, name="p", labels=None, versions=None):
    versions = versions or [
        {"version": 1, "variables": ["name"], "template": "Tag {name}", "parameters": {"system": "be brief"}},
        {"version": 2, "variables": ["name", "cuisine"], "template": "Tag {name} ({cuisine})"},
    ]
    (folder / f"{name}.yaml").write_text(yaml.safe_dump({"name": name, "labels": labels or {}, "versions": versions}))


def test_the_shipped_prompt_resolves_and_declares_what_it_uses():
    p = resolve(FilePromptSource(REPO_ROOT / "deploy" / "prompts"), "catalog-tagging")
    assert p.ref.name == "catalog-tagging" and p.ref.label == "production"
    messages = p.render({v: f"<{v}>" for v in p.version.variables})
    assert messages[0]["role"] == "system" and "<name>" in messages[1]["content"]


def test_label_then_latest_then_pinned_version(tmp_path):
    write(tmp_path, labels={"production": 1})
    src = FilePromptSource(tmp_path)
    assert resolve(src, "p").version.version == 1
    assert resolve(src, "p").ref.label == "production"
    assert resolve(src, "p", label="canary").version.version == 2  # no such label: the latest
    assert resolve(src, "p", label="canary").ref.label is None
    assert resolve(src, "p", version=2).render({"name": "Pad Thai", "cuisine": "thai"}) == [
        {"role": "user", "content": "Tag Pad Thai (thai)"}
    ]


def test_missing_prompt_or_version_is_a_user_error(tmp_path):
    write(tmp_path)
    with pytest.raises(UserError, match="not found"):
        resolve(FilePromptSource(tmp_path), "nope")
    with pytest.raises(UserError, match="no version 7"):
        resolve(FilePromptSource(tmp_path), "p", version=7)


def test_a_template_may_only_use_declared_variables():
    with pytest.raises(UserError, match="undeclared"):
        Prompt("p", PromptVersion(version=1, variables=["name"], template="{name} {secret}"))
    Prompt("p", PromptVersion(version=1, variables=["name", "unused"], template="{name}"))  # as the registry allows


def test_render_needs_every_declared_variable():
    p = Prompt("p", PromptVersion(version=1, variables=["name", "cuisine"], template="{name} {cuisine}"))
    with pytest.raises(UserError, match="cuisine"):
        p.render({"name": "x"})


def test_the_tagger_refuses_a_prompt_with_variables_it_cannot_fill():
    from shared.pricing import Pricing
    from shared.taxonomy import Taxonomy
    from tests.unit.enricher_fakes import use_case
    from workers.enricher.tagging import Tagger

    uc = use_case()
    prompt = Prompt("p", PromptVersion(version=4, variables=["name", "calories"], template="{name} {calories}"))
    with pytest.raises(UserError, match="calories"):
        Tagger(uc, prompt, Taxonomy.load(uc.taxonomy), Pricing.load())


def test_braces_in_item_text_are_not_templates():
    p = Prompt("p", PromptVersion(version=1, variables=["name"], template="Item: {name}"))
    assert p.render({"name": "{cuisine} {0}"})[0]["content"] == "Item: {cuisine} {0}"


def test_a_prompt_state_from_the_topic_resolves_like_a_file():
    class Source:
        def state(self, name):
            return PromptState(name=name, versions=[PromptVersion(version=3, template="x")], labels={"production": 3})

    assert resolve(Source(), "any").ref.version == 3
