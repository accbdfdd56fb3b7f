"""``runmodel diagram --coverage TRACES``: how often recorded traffic took each edge."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from runmodel.cli import main
from tests.helpers import paths

LESSON = paths.LESSON


def test_coverage_counts_the_edges_the_lessons_run_took(tmp_path: Path) -> None:
    code = main(["diagram", "--coverage", str(LESSON), "--lifecycle", "run",
                 "--format", "dot,mmd", "--output", str(tmp_path)])  # fmt: skip
    assert code == 0
    mermaid = (tmp_path / "run.coverage.mmd").read_text(encoding="utf-8")
    assert "[*] --> queued : create · client · D · 1×" in mermaid
    assert "queued --> in_progress : start · server · D · 1×" in mermaid
    assert "in_progress --> completed : complete · server · D · 1×" in mermaid
    assert "in_progress --> failed : fail · server · D · 0×" in mermaid
    assert (tmp_path / "run.coverage.dot").is_file()


def test_coverage_of_a_missing_trace_is_a_clear_error(tmp_path: Path, capsys: Any) -> None:
    code = main(["diagram", "--coverage", str(tmp_path / "nope.jsonl"), "--output", str(tmp_path)])
    assert code == 2
    assert "no such file" in capsys.readouterr().err


def test_coverage_skips_bad_lines_and_says_so(tmp_path: Path, capsys: Any) -> None:
    trace = tmp_path / "runs.jsonl"
    trace.write_bytes(LESSON.read_bytes() + b"{not json\n")
    code = main(["diagram", "--coverage", str(trace), "--lifecycle", "run",
                 "--format", "mmd", "--output", str(tmp_path / "out")])  # fmt: skip
    assert code == 0
    assert "1 input problem(s) skipped" in capsys.readouterr().err
    assert "start · server · D · 1×" in (tmp_path / "out" / "run.coverage.mmd").read_text("utf-8")


def test_coverage_of_nothing_checkable_is_unusable_and_writes_nothing(
    tmp_path: Path, capsys: Any
) -> None:
    garbage = tmp_path / "garbage.txt"
    garbage.write_bytes(b"\x00\xffnot a trace at all\n")
    config = tmp_path / "config.json"
    config.write_text('{"model": "gpt-4o", "temperature": 0.2}\n', encoding="utf-8")
    out = tmp_path / "out"
    code = main(["diagram", "--coverage", str(garbage), str(config), "--output", str(out)])
    assert code == 2
    err = capsys.readouterr().err
    assert f"nothing to draw coverage from: {garbage}, {config} held no run" in err
    assert not out.exists()


def test_coverage_of_a_folder_says_it_is_not_a_file(tmp_path: Path, capsys: Any) -> None:
    code = main(["diagram", "--coverage", str(tmp_path), "--output", str(tmp_path / "out")])
    assert code == 2
    assert capsys.readouterr().err == f"runmodel diagram: not a file: {tmp_path}\n"
