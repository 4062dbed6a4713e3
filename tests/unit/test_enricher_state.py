"""The already-enriched state: never ahead of what Kafka durably received, and it survives restarts."""

from __future__ import annotations

from workers.enricher.state import DoneState


def test_keys_are_written_one_checkpoint_late_and_survive_a_clean_restart(tmp_path):
    path = tmp_path / "done.sqlite"
    s = DoneState(path)
    s.add({"k1": "i1"})
    assert s.seen(["k1", "k2"]) == {"k1"}  # this process knows at once
    assert s.count() == 0
    s.checkpoint()  # producer flush of this checkpoint still to come: staged only
    assert s.count() == 0
    s.add({"k2": "i2"})
    s.checkpoint()  # the previous checkpoint's flush succeeded: k1 is durable
    assert s.count() == 1
    s.close(clean=True)  # the final checkpoint's flush succeeded too
    again = DoneState(path)
    assert again.seen(["k1", "k2", "k3"]) == {"k1", "k2"}
    again.close(clean=True)


def test_after_a_crash_the_unconfirmed_keys_are_forgotten(tmp_path):
    path = tmp_path / "done.sqlite"
    s = DoneState(path)
    s.add({"k1": "i1"})
    s.checkpoint()
    s.add({"k2": "i2"})
    s.close(clean=False)  # the producer flush after that checkpoint may have failed
    again = DoneState(path)
    assert again.seen(["k1", "k2"]) == set()  # both are re-enriched on replay: a repeat, never a loss
    again.close(clean=True)


def test_many_keys_are_looked_up_in_chunks(tmp_path):
    s = DoneState(tmp_path / "d.sqlite")
    keys = {f"k{i}": f"i{i}" for i in range(1500)}
    s.add(keys)
    s.checkpoint()
    s.checkpoint()
    s.staged.clear()
    assert s.seen(list(keys) + ["other"]) == set(keys)
    s.close(clean=True)
