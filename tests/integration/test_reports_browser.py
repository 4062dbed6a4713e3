"""The HTML reports drawn by a real browser: reports/demo.html (ladle/demo.py) and the pages of
`ladle report`, rendered in headless Chromium (Debian's package, `make setup` installs it) through
Playwright. Every chart must have drawn marks of non-zero size, and no page may log an error."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from shared.kafka.broker import free_port
from shared.pricing import Pricing
from shared.settings import REPO_ROOT
from tests.fixtures.accounts import ANALYST_AUTH
from tests.fixtures.sink_events import sample_events
from tests.integration.test_sink_clients import USERS, wait_up
from tests.integration.test_sink_store import land, records
from workers.sink.accounts import Accounts
from workers.sink.api import serve_in_thread
from workers.sink.migrations import migrate
from workers.sink.settings import SinkSettings
from workers.sink.store import ClickHouseStore
from workers.sink.worker import ClickHouseSink

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
REPORTS = ("cost", "latency", "cache", "guardrails", "freshness", "dead_letters", "quality")
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (make setup)")

# Per chart: its data marks (bars, arcs, points: the shapes that carry a value's tooltip, so a
# legend swatch does not count) whose box has a size.
MARKS_JS = """() => [...document.querySelectorAll('svg')].map(svg => {
  const title = (svg.querySelector('text') || {}).textContent || '';
  const marks = [...svg.querySelectorAll('rect, circle, polyline, path')].filter(el => el.querySelector('title')).filter(el => {
    const b = el.getBBox();
    return el.tagName === 'polyline' || el.tagName === 'path' ? (b.width > 0 || b.height > 0) : (b.width > 0 && b.height > 0);
  });
  return {title, marks: marks.length};
})"""


@pytest.fixture(scope="module")
def sink_api(chdb_root):
    """The sample events landed in database `ladle` (the demo's SQL names it), the API served."""
    settings = SinkSettings(data_dir=chdb_root, clickhouse_database="ladle")
    store = ClickHouseStore.open(settings)
    migrate(store)
    land(ClickHouseSink(store, Pricing.load()), records(sample_events()))
    port = free_port()
    api = serve_in_thread(store, "127.0.0.1", port, Accounts.load(USERS), settings)
    url = f"http://127.0.0.1:{port}"
    wait_up(url)
    yield url
    api.stop()
    store.command("DROP DATABASE IF EXISTS `ladle`")
    store.close()


def draw(paths: list[Path], screenshot: Path | None = None) -> dict[str, dict]:
    from playwright.sync_api import sync_playwright

    seen = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)  # a fresh profile each launch
        try:
            for path in paths:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                errors: list[str] = []
                page.on("console", lambda m, errors=errors: errors.append(m.text) if m.type == "error" else None)
                page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
                page.goto(path.resolve().as_uri())
                seen[path.name] = {"charts": page.evaluate(MARKS_JS), "errors": errors}
                if screenshot is not None and path.name == "demo.html":
                    page.screenshot(path=str(screenshot), full_page=True)
                page.close()
        finally:
            browser.close()
    return seen


def demo_facts() -> tuple[dict, list[dict], list[dict]]:
    """What `ladle demo` gathers, from the landed sample (its quality from an evaluation's shape)."""
    from ladle import demo

    ids = sorted({e.result.item_id for t, e in sample_events() if t.startswith("enrichment.") and hasattr(e, "result")})
    facts = demo.summary(ids)
    facts["quality"] = {
        "run_id": "r1", "dataset": "tag", "items": 40, "warning": None,
        "metrics": [{"field": f, "metric": m, "value": v} for f, m, v in [
            ("all", "micro_f1", 0.61), ("cuisine", "accuracy", 0.8), ("cuisine", "macro_f1", 0.55),
            ("dietary", "micro_f1", 0.47), ("dietary", "macro_f1", 0.42), ("course", "accuracy", 0.7)]],
    }  # fmt: skip
    hits = [{"item_id": "i1", "name": "Dan dan noodles", "score": 0.61}]
    return facts, hits, demo.sql(demo.ANALYST_SQL)


def test_the_demo_dashboard_and_every_report_draw_their_charts_without_errors(sink_api, tmp_path, monkeypatch):
    from ladle import demo

    monkeypatch.setenv("LADLE_SINK_API_URL", sink_api)
    facts, hits, analyst = demo_facts()
    assert facts["items"] == 3 and [a["action"] for a in facts["actions"]] == ["accept", "redact", "reject", "review"]
    page = tmp_path / "demo.html"
    demo.write_report(page, facts, hits, analyst)
    env = dict(os.environ, LADLE_SINK_API_URL=sink_api, LADLE_SINK_API_USER=ANALYST_AUTH[0],
               LADLE_SINK_API_PASSWORD=ANALYST_AUTH[1])  # fmt: skip
    pages = [page]
    for name in REPORTS:
        out = tmp_path / f"{name}.html"
        res = subprocess.run([sys.executable, "-m", "ladle.cli", "report", name, "--since", "30d", "--html", str(out)],
                             env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
        assert res.returncode == 0, res.stderr[-2000:]
        pages.append(out)

    shots = REPO_ROOT / "reports"
    shots.mkdir(exist_ok=True)
    seen = draw(pages, screenshot=shots / "demo.png")
    for name, got in seen.items():
        assert got["errors"] == [], (name, got["errors"])
        assert got["charts"], f"{name} has no chart"
        blank = [c["title"] for c in got["charts"] if c["marks"] == 0]
        assert blank == [], f"{name}: charts without marks: {blank}"
    titles = [c["title"] for c in seen["demo.html"]["charts"]]
    assert titles == ["tag: 40 golden items", "USD, last 7 days", "answered calls by latency (cache hits left out)",
                      "verdicts by action", "seconds from catalog change to the index",
                      "letters by topic and error"]  # fmt: skip
    assert (shots / "demo.png").stat().st_size > 0
    text = page.read_text()
    assert "<pre>{" not in text and "<script" not in text and 'src="http' not in text  # no JSON dump, no CDN


@pytest.mark.skipif(shutil.which("chromium") is None, reason="no chromium")
def test_a_chart_without_marks_is_caught(tmp_path):
    """The check above can fail: an empty chart counts as blank."""
    from shared.charts import bar_chart, page

    blank = tmp_path / "blank.html"
    blank.write_text(page("blank", bar_chart([], {"x": []}, "nothing")))
    seen = draw([blank])
    assert seen["blank.html"]["charts"] == [{"title": "nothing", "marks": 0}]
