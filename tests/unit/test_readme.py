from shared.settings import REPO_ROOT
from workers.sink.queries import ANALYST_QUESTIONS

README = (REPO_ROOT / "README.md").read_text()


def test_the_readme_shows_every_analyst_question_with_its_sql():
    assert len(ANALYST_QUESTIONS) == 10
    for q in ANALYST_QUESTIONS:
        assert q.question in README and q.sql.strip() in README, q.id


def test_the_readme_names_the_two_commands():
    assert "make demo" in README and "make test" in README
