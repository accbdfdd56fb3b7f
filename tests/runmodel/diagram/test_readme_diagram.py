"""The README's inline lifecycle is the model's, not a hand-kept copy."""

from __future__ import annotations

from runmodel import RESPONSE, RUN
from runmodel.diagram import readme_snippet
from tests.helpers import paths

README = paths.REPO / "README.md"


def test_readme_shows_the_current_run_lifecycle() -> None:
    assert readme_snippet(RUN) in README.read_text(encoding="utf-8"), (
        "README.md's lifecycle diagram is stale: paste readme_snippet(RUN) between the "
        "lifecycle markers"
    )


def test_readme_shows_the_current_response_lifecycle() -> None:
    assert readme_snippet(RESPONSE) in README.read_text(encoding="utf-8"), (
        "README.md's response diagram is stale: paste readme_snippet(RESPONSE) between the "
        "response-lifecycle markers"
    )
