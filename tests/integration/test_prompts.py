"""The prompt registry on the real compacted topic, through the CLI and a second reader."""

from __future__ import annotations

import subprocess
import sys

from shared.prompts import PromptRegistry


def ladle(env, *args):
    res = subprocess.run(
        [sys.executable, "-m", "ladle.cli", *args], env=env, capture_output=True, text=True, timeout=120
    )
    assert res.returncode == 0, res.stdout + res.stderr
    return res.stdout


def test_push_promote_ab_and_every_reader_materializes_the_same_state(settings, topics, env, tmp_path):
    v1, v2 = tmp_path / "v1.txt", tmp_path / "v2.txt"
    v1.write_text("Tag this item: {name}\n")
    v2.write_text("Tag this menu item.\nName: {name}\nText: {description}\n")
    assert "tag@1 pushed, production -> 1" in ladle(
        env, "prompts", "push", "tag", "--file", str(v1), "--label", "production"
    )
    assert "tag@2 pushed" in ladle(env, "prompts", "push", "tag", "--file", str(v2), "--var", "name", "--var", "description",
                                   "--model", "fast", "--params", '{"temperature": 0}')  # fmt: skip
    ladle(env, "prompts", "promote", "tag", "2", "--label", "staging")
    ladle(env, "prompts", "ab", "tag", "--weights", "production=0.9,staging=0.1")
    diff = ladle(env, "prompts", "diff", "tag", "1", "2")
    assert "-Tag this item: {name}" in diff and "+Text: {description}" in diff
    listing = ladle(env, "prompts", "list")
    assert "production=1, staging=2" in listing and "production:0.9, staging:0.1" in listing

    fresh = PromptRegistry(settings).load()  # a new consumer, from the topic alone
    state = fresh.get("tag")
    assert [v.version for v in state.versions] == [1, 2]
    assert state.labels == {"production": 1, "staging": 2} and state.ab_weights == {"production": 0.9, "staging": 0.1}
    assert state.versions[1].parameters == {"temperature": 0} and state.versions[1].model == "fast"
    assert state.revision == 5

    # a follower sees later changes without reloading
    fresh.follow()
    PromptRegistry(settings).load().promote("tag", 2, "production")
    import time

    deadline = time.monotonic() + 20
    while fresh.get("tag").labels["production"] != 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert fresh.get("tag").labels["production"] == 2
    fresh.close()
