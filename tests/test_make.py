"""`make test`'s pytest runs say why a test was skipped (the diagram tests without Graphviz)."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _pytest_recipes() -> list[list[str]]:
    """The arguments of every pytest the Makefile runs (after ``$(BIN)/pytest``)."""
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    return [
        shlex.split(m) for m in re.findall(r"^\t(?:\w+=\S+ )*\$\(BIN\w*\)/pytest (.*)$", text, re.M)
    ]


def test_the_makefile_runs_pytest_in_its_four_targets() -> None:
    assert len(_pytest_recipes()) == 4  # the main environment (fast, slow), openai 2.x, 1.x


@pytest.mark.parametrize("args", _pytest_recipes())
def test_each_pytest_run_lists_its_skips_with_the_reason(args: list[str], tmp_path: Path) -> None:
    marker = "@pytest.mark.slow\n" if "slow" in args and "not slow" not in args else ""
    (tmp_path / "test_skips.py").write_text(
        "import pytest\n\n"
        f"{marker}@pytest.mark.skipif(True, reason='Graphviz `dot` not on PATH')\n"
        "def test_needs_dot():\n"
        "    pass\n",
        encoding="utf-8",
    )
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    slow: slow\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", *args, "-p", "no:cacheprovider", "test_skips.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "1 skipped" in done.stdout, done.stdout + done.stderr
    assert re.search(r"SKIPPED \[1\] test_skips\.py:\d+: Graphviz `dot` not on PATH", done.stdout)
