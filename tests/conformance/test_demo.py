"""``runmodel demo``: records, checks, draws and fuzzes, and says where everything went."""

from __future__ import annotations

import json
import shlex
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from conformance.conform_responses import SCENARIOS
from runmodel.cli import main
from tests.helpers.demo_result import DEMO_EXAMPLES, DemoRun

RESPONSES_PART = "Responses API, background mode: the same kit, from the same model"


def _parts(demo_run: DemoRun) -> tuple[str, str]:
    """The demo's output: the runs part, then the responses part (with the summary)."""
    runs, responses = demo_run.out.split(RESPONSES_PART, 1)
    return runs, responses


def test_demo_runs_the_whole_kit_and_writes_its_files(demo_run: DemoRun, capsys: Any) -> None:
    out = demo_run.folder
    text, _ = _parts(demo_run)
    assert demo_run.code == 0
    assert "the emulator's side conforms (strict level)" in text
    assert "deliberate mistakes, each answered with the documented 400" in text
    assert text.count("    pass  ") == 11  # every conform scenario
    assert "counterexample" in text
    assert "the client fetched the run 11 times after it became" in text
    examples = f"held in {DEMO_EXAMPLES} lifecycles"
    assert f"passed: every property of the waiter contract {examples}" in text
    assert "\x1b[" not in demo_run.out  # plain text when not on a terminal
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


def test_demo_shows_the_responses_lifecycle_too(demo_run: DemoRun, capsys: Any) -> None:
    out = demo_run.folder
    _, text = _parts(demo_run)
    assert demo_run.code == 0
    # 5. the responses suite, recorded: every scenario passes
    assert f"playing {len(SCENARIOS)} scenarios through the openai SDK" in text
    assert text.count("    pass  ") == len(SCENARIOS)
    for title, _ in SCENARIOS.values():
        assert f"    pass  {title}\n" in text
    trace = out / "responses-trace.jsonl"
    assert trace.is_file()
    assert trace.read_bytes().count(b"sk-demo") == 0  # the key is masked
    # 6. the trace checked, and a broken copy of it at both levels
    assert "the emulator's side conforms (strict level)" in text
    assert "deliberate mistakes: response.round.all_outputs" in text
    assert "a later poll of a cancelled response answers completed" in text
    assert "at strict      does not conform: response.terminal_left" in text
    assert "at permissive  conforms: no error" in text
    assert (out / "responses-broken.jsonl").is_file()
    report = (out / "responses-report.txt").read_text(encoding="utf-8")
    assert "response.round.all_outputs" in report  # the client's deliberate mistake, reported
    # 7. the guide's poller: a counterexample whose reproduce line reproduces it
    assert "fuzzing the guide's poller as a poller" in text
    counterexample = (out / "guide-counterexample.txt").read_text(encoding="utf-8")
    assert counterexample.splitlines()[0] in text
    line = next(x for x in counterexample.splitlines() if x.strip().startswith("reproduce: "))
    argv = shlex.split(line.split("reproduce: ", 1)[1])
    assert argv[:2] == ["runmodel", "fuzz"]
    assert argv[2] == f"{out / 'guide_client.py'}:poll_response"
    assert main(argv[1:]) == 1
    assert capsys.readouterr().out.splitlines()[0] == counterexample.splitlines()[0]
    # ... and a careful poller passes the same search
    assert f"passed: every property of the poller contract held in {DEMO_EXAMPLES}" in text
    # the summary names the responses files
    assert f"responses trace    {trace}" in text
    assert f"the guide's poller {out / 'guide_client.py'}" in text


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
