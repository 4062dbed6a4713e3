"""The README is the newcomer's path, short and linked to docs/ pages that exist; the analyst
questions and their SQL are shown in docs/analytics.md exactly as the sink runs them."""

import re

from shared.settings import REPO_ROOT
from workers.sink.queries import ANALYST_QUESTIONS

README = (REPO_ROOT / "README.md").read_text()
ANALYTICS = (REPO_ROOT / "docs" / "analytics.md").read_text()


def test_the_analytics_page_shows_every_analyst_question_with_its_sql():
    assert len(ANALYST_QUESTIONS) == 10
    for q in ANALYST_QUESTIONS:
        assert q.question in ANALYTICS and q.sql.strip() in ANALYTICS, q.id


def test_the_readme_names_the_two_commands_and_stays_short():
    assert "make demo" in README and "make test" in README
    assert len(README.splitlines()) < 250


def test_every_page_the_docs_link_to_exists():
    pages = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
    for page in pages:
        for target in re.findall(r"\]\(((?:docs/)?[\w./-]+\.md)\)", page.read_text()):
            base = REPO_ROOT if page.name == "README.md" else page.parent
            assert (base / target).is_file(), f"{page.name} links to {target}, which does not exist"
