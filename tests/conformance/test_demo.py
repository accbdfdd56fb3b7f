"""``runmodel demo``: records, checks, draws and fuzzes, and says where everything went."""

from __future__ import annotations

import json
import shlex
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from runmodel.cli import main
from tests.helpers.demo_result import DEMO_EXAMPLES, DemoRun


def test_demo_runs_the_whole_kit_and_writes_its_files(demo_run: DemoRun, capsys: Any) -> None:
    out, text = demo_run.folder, demo_run.out
    assert demo_run.code == 0
    assert "the emulator's side conforms (strict level)" in text
    assert "deliberate mistakes, each answered with the documented 400" in text
    assert text.count("    pass  ") == 11  # every conform scenario
    assert "counterexample" in text
    assert "the client fetched the run 11 times after it became" in text
    examples = f"held in {DEMO_EXAMPLES} lifecycles"
    assert f"passed: every property of the waiter contract {examples}" in text
    assert "\x1b[" not in text  # plain text when not on a terminal
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    codes = [v["code"] for r in report["runs"] for v in r["violations"]]
    assert codes  # the refusal scenarios' deliberate client mistakes are reported ...
    assert all(c.startswith("client.") for c in codes)  # ... and nothing on the server's side
    ET.parse(out / "report.xml")  # well-formed JUnit
    assert (out / "trace.jsonl").read_bytes().count(b"sk-demo") == 0  # the key is masked
    assert (out / "coverage" / "run.coverage.mmd").is_file()
    counterexample = (out / "lesson-counterexample.txt").read_text(encoding="utf-8")
    assert counterexample.startswith("queued")
    # the reproduce line names a real file, and running it reproduces the counterexample
    line = next(x for x in counterexample.splitlines() if x.strip().startswith("reproduce: "))
    argv = shlex.split(line.split("reproduce: ", 1)[1])
    assert argv[:2] == ["runmodel", "fuzz"]
    assert main(argv[1:]) == 1
    assert capsys.readouterr().out.splitlines()[0] == counterexample.splitlines()[0]


def test_demo_says_when_it_cannot_write(tmp_path: Path, capsys: Any) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    assert main(["demo", "--output", str(blocker / "sub")]) == 2
    assert "cannot create" in capsys.readouterr().err


def test_demo_checks_its_arguments_before_it_starts(tmp_path: Path, capsys: Any) -> None:
    out = tmp_path / "demo"
    assert main(["demo", "--output", str(out), "--max-examples", "0"]) == 2
    captured = capsys.readouterr()
    assert captured.err == "runmodel demo: --max-examples 0 must be at least 1\n"
    assert captured.out == ""
    assert not out.exists()
