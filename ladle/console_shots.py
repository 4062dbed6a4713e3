"""Screenshots of the console's pages (PNG) for the demo: headless Chromium (Debian's package,
`make setup` installs it) through Playwright, signed in with an analyst account."""

from __future__ import annotations

from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]  # fmt: skip
PAGES = [("review-queue", "/review"), ("playground", "/playground"), ("evaluations", "/evaluations"),
         ("costs", "/costs?since=30d")]  # fmt: skip


def screenshots(url: str, out: Path, user: str, password: str, browser=None) -> list[Path]:
    """The sign-in page, every page of the console and the first item waiting for review (if one
    does), each as ``out/NAME.png``; returns the files written. ``browser``: a Playwright browser
    to use (default: launch one). Raises RuntimeError when no browser is installed or the
    account is refused."""
    out.mkdir(parents=True, exist_ok=True)
    if browser is not None:
        return _take(browser, url, out, user, password)
    if not CHROMIUM.exists():
        raise RuntimeError(f"no browser at {CHROMIUM} (make setup installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        try:
            return _take(launched, url, out, user, password)
        finally:
            launched.close()


def _take(browser, url: str, out: Path, user: str, password: str) -> list[Path]:
    written = []
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(url + "/login")
        written.append(_shot(page, out, "login"))
        page.fill("input[name=user]", user)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        if "/login" in page.url:
            raise RuntimeError(f"the console at {url} refused the account {user!r}")
        for name, path in PAGES:
            page.goto(url + path)
            written.append(_shot(page, out, name))
            if name == "review-queue" and page.locator("tbody a").count():
                page.locator("tbody a").first.click()
                page.wait_for_selector("#item-text")
                written.append(_shot(page, out, "review-item"))
    finally:
        page.close()
    return written


def _shot(page, out: Path, name: str) -> Path:
    path = out / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
