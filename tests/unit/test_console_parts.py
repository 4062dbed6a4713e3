"""The console's pure parts: signed sessions, CSRF tokens, redirects after sign-in, review
decisions' ids and labels, the playground's request and prices."""

from __future__ import annotations

from schemas import ReviewDecision
from services.console.auth import Signer, safe_next, same_token
from services.console.playground import RunRequest, price_names
from shared.settings import REPO_ROOT


def test_a_session_round_trips_and_a_tampered_or_expired_one_is_refused():
    signer = Signer("k1", max_age_s=60)
    cookie, s = signer.issue("analyst", now=1000.0)
    assert signer.session(cookie, now=1030.0) == s and s.user == "analyst" and len(s.csrf) >= 32
    assert signer.session(cookie, now=1061.0) is None  # expired
    body, _, mac = cookie.rpartition(".")
    forged = Signer("other", 60).sign({"u": "admin", "c": s.csrf, "e": s.expires})
    assert signer.session(forged, now=1030.0) is None  # signed with another secret
    assert signer.session(body + "." + mac[::-1], now=1030.0) is None
    assert signer.session(None) is None and signer.session("garbage") is None and signer.session("a.b") is None
    assert Signer("k1", 60).issue("analyst")[1].csrf != s.csrf  # a fresh token per session


def test_csrf_tokens_must_be_present_and_equal():
    assert same_token("abc", "abc")
    assert not same_token("abc", "abd") and not same_token("abc", "") and not same_token(None, None)
    assert not same_token("", "")


def test_after_sign_in_only_a_path_on_this_site():
    assert safe_next("/review?x=1") == "/review?x=1"
    for bad in (None, "", "https://evil.example/", "//evil.example/x", "/\\evil.example", "review"):
        assert safe_next(bad) == "/"


def decision(**kw) -> ReviewDecision:
    base = dict(reviewer="ana", action="correct", item_id="i1", task="tag", result_event_id="r1", route="accepted",
                before={"cuisine": "thai", "dietary": ["vegan", "gluten_free"]},
                after={"cuisine": "vietnamese", "dietary": ["gluten_free", "vegan"]})  # fmt: skip
    return ReviewDecision(**{**base, **kw})


def test_a_decision_is_keyed_by_the_result_so_the_first_one_wins_and_it_names_what_changed():
    first, second = decision(), decision(reviewer="bo", action="accept", after={})
    assert first.event_id == second.event_id  # the same result: one decision, whoever sends it
    assert decision(result_event_id="r2").event_id != first.event_id
    assert first.changed_fields() == ["cuisine"]  # list order is not a change
    assert second.changed_fields() == ["cuisine", "dietary"]


def test_the_playground_asks_for_a_stream_with_usage_and_prices_by_deployment():
    body = RunRequest(model="fast", message="hi", system="be brief", max_tokens=8).body()
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["messages"] == [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]
    assert RunRequest(model="fast", message="hi").body()["messages"] == [{"role": "user", "content": "hi"}]
    prices = price_names(REPO_ROOT / "deploy" / "gateway" / "gateway.yaml")
    assert prices["local-smollm2"] == "smollm2-135m-instruct" and prices["openai-mini"] == "gpt-4o-mini"
