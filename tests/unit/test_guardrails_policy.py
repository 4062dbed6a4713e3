"""Policies: the YAML validates, versions follow content, mistakes are one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from shared.guardrails.policy import DEFAULT_FILE, load_policies
from shared.runtime.errors import UserError

REPO = Path(__file__).resolve().parents[2]


def test_the_shipped_policies_load_with_the_enricher_taxonomy():
    ps = load_policies()
    assert ps.file.default == "default" and ps.name_for("tag") == "default" and ps.name_for("unknown") == "default"
    assert ps.name_for("tag-strict") == "strict"
    assert set(ps.taxonomy.fields) >= {"cuisine", "dish_type"}
    assert ps.taxonomy.description("cuisine", "thai")
    for name, version in ps.versions.items():
        assert version.startswith(ps.policy(name).version + "-")


def _write(tmp_path: Path, data: dict) -> Path:
    p = tmp_path / "policies.yaml"
    p.write_text(yaml.safe_dump(data))
    return p


def _base() -> dict:
    data = yaml.safe_load(DEFAULT_FILE.read_text())
    data["taxonomy"] = str(REPO / data["taxonomy"])
    data["tag_descriptions"] = str(REPO / data["tag_descriptions"])
    return data


def test_versions_change_with_any_threshold_and_only_for_that_policy(tmp_path):
    before = load_policies(_write(tmp_path, _base())).versions
    data = _base()
    data["policies"]["default"]["checks"][-1]["threshold"] = 0.9
    after = load_policies(_write(tmp_path, data)).versions
    assert after["default"] != before["default"]
    assert after["strict"] == before["strict"]
    assert load_policies(_write(tmp_path, _base())).versions == before, "same content, same version"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["policies"]["default"]["checks"][0].update(max_chrs=5), "max_chrs"),
        (lambda d: d["policies"]["default"]["checks"][0].update(action="drop_tag"), "action"),
        (lambda d: d["policies"]["default"]["checks"].append({"check": "size"}), "appears twice"),
        (lambda d: d["policies"]["default"]["checks"].append({"check": "telepathy"}), "telepathy"),
        (lambda d: d["use_cases"].update(tag="nope"), "use_cases.tag names policy 'nope'"),
        (lambda d: d.update(default="nope"), "default names policy 'nope'"),
    ],
)
def test_mistakes_are_one_line_user_errors(tmp_path, edit, message):
    data = _base()
    edit(data)
    with pytest.raises(UserError) as e:
        load_policies(_write(tmp_path, data))
    assert message in str(e.value) and "\n" not in str(e.value)


def test_missing_and_broken_files(tmp_path):
    with pytest.raises(UserError, match="not found"):
        load_policies(tmp_path / "none.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("policies: [")
    with pytest.raises(UserError, match="not valid YAML"):
        load_policies(bad)
    data = _base()
    data["tag_descriptions"] = str(_write(tmp_path, {"cuisine": {"martian": "food from mars"}}))
    (tmp_path / "p2.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(UserError, match="unknown values"):
        load_policies(tmp_path / "p2.yaml")
