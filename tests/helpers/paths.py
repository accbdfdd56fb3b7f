"""Where the tests' files are, so that a test file's own folder never decides it."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"
TRACES = FIXTURES / "traces"
LESSON = FIXTURES / "lesson_runs.jsonl"
# the real recordings shared beside the repository (tests that need them skip when absent)
REAL = REPO.parent / "shared" / "recordings" / "real"
needs_real = pytest.mark.skipif(
    not REAL.is_dir(), reason=f"the real recordings are not here: {REAL} is missing"
)
"""For a test whose files must share no thread (the fixtures share the lesson's ids)."""
