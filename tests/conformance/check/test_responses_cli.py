"""``runmodel check`` on recorded Responses traffic: exit codes 0, 1 and 2, the text, JSON and
JUnit reports, and ``--jobs 2`` giving the one process's report."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conformance import cli
from conformance.conform import Played, judge_trace
from tests.conformance.check.response_scenarios import FIXTURES, LEGAL, Scenario, function_round
from tests.conformance.check.test_responses import TWINS, missing_output, went_back

LEGAL_TRACES = [FIXTURES / f"{name}.trace.jsonl" for name in LEGAL]
REVIVED = FIXTURES / "cancelled-then-completed.trace.jsonl"


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = cli.main(["check", *argv])
    return code, capsys.readouterr().out


def _write(s: Scenario, tmp: Path) -> Path:
    path = tmp / f"{s.name}.trace.jsonl"
    path.write_text(s.native(), encoding="utf-8")
    return path


def test_legal_paths_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _run([str(p) for p in LEGAL_TRACES], capsys)
    assert code == 0
    assert out.startswith("conforms at strict:")


def test_a_broken_twin_exits_1_and_names_the_response(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    s, seq = went_back()
    path = _write(s, tmp_path)
    code, out = _run([str(path)], capsys)
    assert code == 1
    assert f"response resp_polled  ({path}:2)" in out
    assert f"error   response.illegal_transition  {path}:{s.line(seq)} [#{seq}]" in out


def test_the_revival_exits_1_at_strict_and_0_at_permissive(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert _run([str(REVIVED)], capsys)[0] == 1
    code, out = _run(["--strictness", "permissive", str(REVIVED)], capsys)
    assert code == 0
    assert "permissive edges used: cancelled → completed" in out


def test_unusable_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"object": "response", "id": 1, "status": "queued"}\n', encoding="utf-8")
    code, out = _run([str(bad)], capsys)
    assert code == 2
    assert "input." in out


def test_json_and_junit_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    s, _ = missing_output()
    path = _write(s, tmp_path)
    code, out = _run(["--format", "json", str(path)], capsys)
    assert code == 1
    doc = json.loads(out)
    runs = {r["run_id"]: r for r in doc["runs"]}
    assert {r["lifecycle"] for r in runs.values()} == {"response"}
    assert [v["code"] for v in runs["resp_asks"]["violations"]] == ["response.round.all_outputs"]
    assert [v["code"] for v in runs["resp_answers"]["violations"]] == ["server.accepted_illegal"]
    assert "response" in doc["coverage"]["edges"]
    code, out = _run(["--format", "junit", str(path)], capsys)
    assert code == 1
    cases = list(ET.fromstring(out).iter("testcase"))
    assert {c.get("classname") for c in cases} == {"runmodel.response"}
    failed = {c.get("name"): c.find("failure") for c in cases}
    assert failed["resp_asks"] is not None
    assert failed["resp_asks"].get("type") == "response.round.all_outputs"


def test_jobs_2_gives_the_same_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths = [str(p) for p in LEGAL_TRACES]
    for i, (_, twin, _) in enumerate(TWINS):
        s, _ = twin()
        s.name = f"{i}-{s.name}"
        paths.append(str(_write(s, tmp_path)))
    for fmt in ("text", "json", "junit"):
        one = _run(["--format", fmt, *paths], capsys)
        two = _run(["--format", fmt, "--jobs", "2", *paths], capsys)
        assert one == two, fmt
        assert one[0] == 1


def test_conform_judges_response_traffic(tmp_path: Path) -> None:
    """`judge_trace` gives each scenario the server's errors on its responses, not the
    client's."""
    s, _ = missing_output()
    path = _write(s, tmp_path)
    played = [
        Played("round", "a function round", ("resp_asks", "resp_answers"), None, None),
        Played("other", "another", ("resp_none",), None, None),
    ]
    round_, other = judge_trace(path, played, "strict")
    assert round_.result == "fail"
    assert [d.split(":")[0] for d in round_.details] == ["server.accepted_illegal"]
    assert other.result == "pass"
    clean = _write(function_round(), tmp_path)
    assert [o.result for o in judge_trace(clean, played[:1], "strict")] == ["pass"]
