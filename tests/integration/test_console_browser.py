"""The console in headless Chromium (Debian's package, through Playwright) over real stack
pieces: the session's Kafka broker, a sink (chDB) serving its query API, the gateway in front
of the real llama.cpp upstream, and the console itself. One stack for the module.

Sign-in and the redirect without one; a correction in the review queue (the ReviewDecision in
ClickHouse, the corrected result on enrichment.accepted, a second reviewer refused); a
two-column playground run with costs, saved as a prompt version; the evaluation and cost pages'
charts. Screenshots of each page go to reports/console/."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from schemas import CheckOutcome, EnrichmentResult, GuardedResult, GuardrailVerdict, PromptRef
from shared.kafka import clients
from shared.kafka.broker import free_port
from shared.keyhash import sha256_hex
from shared.pricing import Pricing
from shared.runtime import codec
from shared.settings import REPO_ROOT, LadleSettings
from tests.fixtures.sink_events import sample_events
from tests.integration.gateway_helpers import Served
from tests.integration.kafka_helpers import produce, read_all
from tests.integration.test_reports_browser import CHROMIUM, FLAGS, MARKS_JS
from tests.integration.test_sink_clients import wait_up
from tests.integration.test_sink_kafka import run_sink
from tests.integration.test_sink_store import land, records
from topics import apply as topic_apply
from topics.registry import TOPICS, Namespace, key_of

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (make setup)"),
]
TEAM_KEY = "ladle-demo-key"
USERS = {"analyst": "ladle-analyst", "reviewer2": "second-pair-of-eyes"}
SHOTS = REPO_ROOT / "reports" / "console"


class Stack:
    pass


@pytest.fixture(scope="module")
def stack(broker, chdb_root, llama_server, tmp_path_factory):
    from services.console.app import Console, create_app
    from services.console.settings import ConsoleSettings
    from services.gateway.app import Gateway
    from services.gateway.app import create_app as gateway_app
    from services.gateway.config import GatewayConfig
    from services.gateway.router import Router
    from workers.sink.accounts import Accounts
    from workers.sink.api import serve_in_thread
    from workers.sink.migrations import migrate
    from workers.sink.settings import SinkSettings
    from workers.sink.store import ClickHouseStore
    from workers.sink.worker import ClickHouseSink

    tmp = tmp_path_factory.mktemp("console")
    st = Stack()
    st.settings = LadleSettings(kafka_bootstrap=broker.bootstrap, topic_prefix=f"t{uuid.uuid4().hex[:10]}.",
                                data_dir=tmp / "data")  # fmt: skip
    topic_apply.ensure(clients.admin(st.settings), Namespace(st.settings.topic_prefix))

    users = tmp / "users.yaml"
    users.write_text("users:\n" + "".join(f"  - {{name: {u}, password_sha256: {sha256_hex(p)}}}\n"
                                          for u, p in USERS.items()))  # fmt: skip
    sink_settings = SinkSettings(data_dir=chdb_root, clickhouse_database=f"console_{uuid.uuid4().hex[:8]}")
    st.store = ClickHouseStore.open(sink_settings)
    migrate(st.store)
    land(ClickHouseSink(st.store, Pricing.load()), records(sample_events()))  # what the cost and eval pages draw
    sink_port = free_port()
    api = serve_in_thread(st.store, "127.0.0.1", sink_port, Accounts.load(users), sink_settings)
    sink_url = f"http://127.0.0.1:{sink_port}"
    wait_up(sink_url)

    gw_config = tmp / "gateway.yaml"
    gw_config.write_text(
        "deployments:\n"
        f"  - {{name: local, provider: openai_compatible, model: smollm2, base_url: '{llama_server.url}', "
        "pricing_model: smollm2-135m-instruct, dialect: llama_cpp}\n"
        "aliases:\n  fast: [local]\n"
        f"teams:\n  - {{name: demo, key_sha256: [{sha256_hex(TEAM_KEY)}], budget_usd: 5.0}}\n"
    )
    gw = Gateway(GatewayConfig.load(gw_config), None, Pricing.load(), None)
    gw.router = Router(gw.config)
    gateway = Served(gateway_app(gw))

    settings = ConsoleSettings(users_file=users, secret="test-secret", gateway_url=gateway.url, sink_api_url=sink_url,
                               sink_api_user="analyst", sink_api_password=USERS["analyst"],
                               gateway_config_file=gw_config)  # fmt: skip
    st.console = Console(settings, st.settings)
    served = Served(create_app(st.console))
    st.url = served.url.removesuffix("/v1")
    st.env = dict(os.environ, LADLE_KAFKA_BOOTSTRAP=broker.bootstrap, LADLE_TOPIC_PREFIX=st.settings.topic_prefix,
                  LADLE_DATA_DIR=str(tmp / "data"))  # fmt: skip
    SHOTS.mkdir(parents=True, exist_ok=True)
    yield st
    served.stop()
    st.console.close()
    gateway.stop()
    api.stop()
    st.store.command(f"DROP DATABASE IF EXISTS `{st.store.database}`")
    st.store.close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


def signed_in(browser, stack, user: str = "analyst"):
    """A fresh context (its own cookies) signed in as ``user``, with a page that collects errors."""
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = ctx.new_page()
    page.errors = []
    page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.goto(stack.url + "/review")
    assert "/login?next=%2Freview" in page.url
    page.fill("input[name=user]", user)
    page.fill("input[name=password]", USERS[user])
    page.click("button[type=submit]")
    page.wait_for_url(stack.url + "/review")
    return ctx, page


def test_without_a_session_every_page_redirects_to_sign_in_and_a_post_needs_its_csrf_token(stack, browser):
    for path in ("/", "/review", "/playground", "/evaluations", "/costs?since=7d"):
        resp = httpx.get(stack.url + path, follow_redirects=False)
        assert resp.status_code == 302, path
        assert resp.headers["location"].startswith("/login?next="), path
    assert httpx.get(stack.url + "/health").json() == {"status": "ok"}
    assert httpx.post(stack.url + "/review/x", data={"action": "accept"}, follow_redirects=False).status_code == 302

    # a wrong password stays on the sign-in page
    ctx = browser.new_context()
    page = ctx.new_page()
    page.goto(stack.url + "/costs")
    page.fill("input[name=user]", "analyst")
    page.fill("input[name=password]", "nope")
    page.click("button[type=submit]")
    assert "Unknown account or wrong password." in page.content()
    page.screenshot(path=str(SHOTS / "login.png"), full_page=True)
    ctx.close()

    ctx, page = signed_in(browser, stack)
    # signed in, a POST without the token (another site's form) is refused
    refused = page.request.post(stack.url + "/review/x", form={"action": "accept"}, max_redirects=0)
    assert refused.status == 403
    forged = page.request.post(stack.url + "/review/x", form={"action": "accept", "csrf": "guess"}, max_redirects=0)
    assert forged.status == 403
    page.click("nav button[type=submit]")  # sign out
    page.wait_for_url(re.compile(r".*/login$"))
    page.goto(stack.url + "/review")
    assert "/login" in page.url
    ctx.close()


def review_item(i: int, text: str) -> GuardedResult:
    output = {"cuisine": "thai", "dish_type": "noodles", "dietary": ["vegan"], "allergens": ["soy", "peanut"],
              "flavour": ["spicy"]}  # fmt: skip
    result = EnrichmentResult(item_id=f"rv-{i}", item_version=1, task="tag", output=output, raw_output="{}",
                              item_text=text, engine="llamacpp", model="SmolLM2-135M-Instruct",
                              prompt=PromptRef(name="catalog-tagging", version=1))  # fmt: skip
    verdict = GuardrailVerdict(subject_id=result.event_id, policy="catalog", policy_version="v1", action="review",
                               checks=[CheckOutcome(check="schema", passed=True),
                                       CheckOutcome(check="consistency", passed=False, score=0.31, action="review",
                                                    detail="cuisine thai far from the text")])  # fmt: skip
    return GuardedResult(result=result, verdict=verdict, route="review")


def test_a_reviewer_corrects_one_tag_the_decision_lands_and_the_corrected_result_is_accepted(stack, browser):
    items = [review_item(1, "Pho bo: rice noodle soup, beef broth, [REDACTED_EMAIL]"), review_item(2, "Pad see ew"),
             review_item(3, "Gift card, 50 USD")]  # fmt: skip
    spec = TOPICS["enrichment.review"]
    produce(stack.settings, "enrichment.review", [(key_of(spec, g), codec.encode(g)) for g in items])
    target = items[0].result.event_id

    ctx_b, page_b = signed_in(browser, stack, "reviewer2")
    ctx, page = signed_in(browser, stack)
    assert "3 item(s) wait for a person." in page.content()
    page.screenshot(path=str(SHOTS / "review-queue.png"), full_page=True)
    page_b.goto(f"{stack.url}/review/{target}")  # the second reviewer has the same item open

    page.click("text=rv-1")
    page.wait_for_url(f"{stack.url}/review/{target}")
    assert page.inner_text("#item-text") == "Pho bo: rice noodle soup, beef broth, [REDACTED_EMAIL]"
    assert "consistency" in page.content() and "0.31" in page.content()
    page.select_option("select[name='f.cuisine']", "vietnamese")
    page.screenshot(path=str(SHOTS / "review-item.png"), full_page=True)
    page.click("button[value=correct]")
    page.wait_for_selector("#decision")
    assert page.inner_text("#decision").startswith("correct by analyst at ")

    # the second reviewer decides too late: the first decision stands, and they see whose it is
    page_b.click("button[value=accept]")
    assert "already decided by analyst (correct" in page_b.inner_text(".err")
    assert page_b.inner_text("#decision").startswith("correct by analyst")
    # ... and rejects another item: it goes on to enrichment.rejected as the model proposed it
    page_b.goto(f"{stack.url}/review/{items[2].result.event_id}")
    page_b.fill("input[name=note]", "not food")
    page_b.click("button[value=reject]")
    assert page_b.inner_text("#decision").startswith("reject by reviewer2")
    # the one error the browser saw is the refused late decision's status
    assert page_b.errors == ["Failed to load resource: the server responded with a status of 409 (Conflict)"]
    ctx_b.close()
    page.goto(stack.url + "/review")
    assert "1 item(s) wait for a person." in page.content()
    assert page.errors == []
    ctx.close()

    # the sink lands the three reviewed items, two decisions, the corrected and the rejected result: 7 messages
    run_sink(stack.settings, stack.store, f"{stack.settings.topic_prefix}sink", 7)
    rows = stack.store.query(
        "SELECT reviewer, action, route, item_id, changed_fields, failed_checks, before_json, after_json, "
        "result_event_id, note FROM review_decisions FINAL WHERE item_id LIKE 'rv-%' ORDER BY item_id"
    )[1]
    # the pickers list values in the taxonomy's order: a reordered list is not a change
    after = {"cuisine": "vietnamese", "dish_type": "noodles", "dietary": ["vegan"], "allergens": ["peanut", "soy"],
             "flavour": ["spicy"]}  # fmt: skip
    assert [r[:6] for r in rows] == [("analyst", "correct", "accepted", "rv-1", ["cuisine"], ["consistency"]),
                                     ("reviewer2", "reject", "rejected", "rv-3", sorted(items[2].result.output),
                                      ["consistency"])]  # fmt: skip
    assert json.loads(rows[1][7]) == {} and rows[1][9] == "not food"
    assert json.loads(rows[0][6]) == items[0].result.output and json.loads(rows[0][7]) == after
    assert rows[0][8] == target
    routes = stack.store.query("SELECT route, tags FROM guarded_results WHERE item_id = 'rv-1' ORDER BY route")[1]
    assert [r[0] for r in routes] == ["accepted", "review"]

    accepted = [GuardedResult.from_json(m.value()) for m in read_all(stack.settings, "enrichment.accepted", 1)]
    assert len(accepted) == 1
    g = accepted[0]
    assert g.route == "accepted" and g.result.output == after and g.result.event_id == target
    assert g.result.item_text == items[0].result.item_text and g.verdict == items[0].verdict
    [rejected] = [GuardedResult.from_json(m.value()) for m in read_all(stack.settings, "enrichment.rejected", 1)]
    assert rejected.route == "rejected" and rejected.result.output == items[2].result.output


def test_a_two_column_playground_run_through_the_gateway_and_a_saved_prompt_version(stack, browser):
    ctx, page = signed_in(browser, stack)
    page.goto(stack.url + "/playground")
    page.fill("input[name=key]", TEAM_KEY)
    page.fill("input[name=max_tokens]", "8")
    page.fill("textarea[name=message]", "Name one Italian pasta dish.")
    page.fill("input[name=model0]", "fast")
    page.fill("input[name=model1]", "local")
    page.click("#run")
    for i in (0, 1):
        page.wait_for_selector(f"#facts{i}[data-state=done]", timeout=240_000)
        assert page.inner_text(f"#answer{i}").strip(), f"column {i} has no answer"
        facts = page.inner_text(f"#facts{i}")
        assert re.search(r"latency \d+ ms · TTFT \d+ ms · tokens \d+ in / [1-8] out · cost \$0\.\d{9}", facts), facts
        assert "cost $0.000000000" not in facts  # priced: SmolLM2's machine time
    assert page.inner_text("#facts2") == ""  # no model, no run
    page.screenshot(path=str(SHOTS / "playground.png"), full_page=True)

    page.fill("input[name=name]", "pasta-question")
    page.click("text=Save as prompt version")
    assert "saved pasta-question@1" in page.inner_text(".msg")

    # a registered prompt version with a variable, filled in from the page
    stack.console.registry().push("dish-question", "Name one {cuisine} dish.", model="fast")
    page.goto(stack.url + "/playground")
    page.select_option("select[name=prompt]", "dish-question@1")
    page.click("text=Fill in")
    page.fill("input[name='var.cuisine']", "Thai")
    page.click("text=Fill in")
    assert page.input_value("textarea[name=message]") == "Name one Thai dish."
    assert page.input_value("input[name=model0]") == "fast"
    assert page.errors == []
    ctx.close()

    res = subprocess.run([sys.executable, "-m", "ladle.cli", "prompts", "list"], env=stack.env, capture_output=True,
                         text=True, timeout=120)  # fmt: skip
    assert res.returncode == 0, res.stderr[-2000:]
    line = next(ln for ln in res.stdout.splitlines() if "pasta-question" in ln)
    assert line.split("│")[2].strip() == "1"  # one version, no label: production never moves from here
    assert line.split("│")[3].strip() == ""


def test_the_evaluation_and_cost_pages_draw_their_charts(stack, browser):
    ctx, page = signed_in(browser, stack)
    page.goto(stack.url + "/evaluations?a=ev-sample&b=ev-sample")
    charts = page.evaluate(MARKS_JS)
    assert charts == [{"title": "tag: scores per run", "marks": 1}]
    rows = page.evaluate(
        "() => [...document.querySelectorAll('#compare tbody tr')].map(tr => [...tr.cells].map(c => c.textContent))"
    )
    assert [r[0] for r in rows] == ["cuisine", "dietary", "all"]  # the fields the sample's golden items have
    # a run against itself: no difference, and the verdict says none is significant
    assert {(r[1], r[4], r[9]) for r in rows} == {("macro_f1", "0", "no significant difference")}
    page.screenshot(path=str(SHOTS / "evaluations.png"), full_page=True)

    page.goto(stack.url + "/costs?since=30d")
    charts = page.evaluate(MARKS_JS)
    titles = [c["title"] for c in charts]
    assert titles == ["spend by team and model, last 30d", "latency percentiles (ms) by model",
                      "cache hit rate by use case", "guardrail actions", "seconds from change to index",
                      "review decisions"]  # fmt: skip
    assert [c["title"] for c in charts if c["marks"] == 0] == []
    page.screenshot(path=str(SHOTS / "costs.png"), full_page=True)
    assert page.errors == []
    ctx.close()


def test_the_demo_screenshots_every_page_of_the_console(stack, browser, tmp_path):
    from ladle.console_shots import screenshots

    shots = screenshots(stack.url, tmp_path, "analyst", USERS["analyst"], browser)
    # rv-2 still waits for review (the correction test decided rv-1), so its page is shot too
    assert [p.name for p in shots] == ["login.png", "review-queue.png", "review-item.png", "playground.png",
                                       "evaluations.png", "costs.png"]  # fmt: skip
    assert all(p.stat().st_size > 10_000 for p in shots)
    with pytest.raises(RuntimeError, match="refused the account 'analyst'"):
        screenshots(stack.url, tmp_path, "analyst", "wrong", browser)
