"""``runmodel check`` end to end: files read by `conformance.readers`, reports in three formats."""

from __future__ import annotations

import argparse
import io
import json
import sys
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO

import pytest
from checktrace import T0, error, run

from conformance.cli import check as check_cli
from conformance.errors import format_error
from conformance.reports import JSON_FORMAT, JSON_VERSION
from conformance.trace import TraceWriter

LESSON = Path(__file__).parents[1] / "fixtures" / "lesson_runs.jsonl"


def main(argv: Sequence[str]) -> int:
    """``runmodel check ...`` (through `conformance.cli` once the command is registered there)."""
    from conformance import cli

    if "check" in cli.COMMANDS:
        return cli.main(["check", *argv])
    parser = argparse.ArgumentParser(prog="runmodel check")
    check_cli.configure(parser)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    return check_cli.run(args)


class Native:
    """A native trace written by the project's own TraceWriter (to an open binary file)."""

    def __init__(self, f: BinaryIO) -> None:
        self.w = TraceWriter(f, tool="tests", sdk=None, http=None)
        self.line = 1  # the header

    def http(
        self,
        method: str,
        path: str,
        body: Any,
        status: int = 200,
        request: Any = None,
        stream: bool = False,
    ) -> int:
        response = {"status": status, "headers": {}, "body": body, "stream": stream}
        req = {"method": method, "path": "/v1" + path, "query": {}, "body": request}
        self.w.write(
            "exchange",
            {
                "wall": T0 + self.line,
                "mono": float(self.line),
                "request": req,
                "response": response,
            },
            "exchange",
        )
        self.line += 1
        return self.line

    def event(self, exchange: int, name: str, data: Any) -> int:
        seq = exchange - 1  # the exchange's seq (its line minus the header)
        self.w.write(
            "event",
            {"exchange": seq, "wall": None, "mono": None, "event": name, "data": data},
            "event",
        )
        self.line += 1
        return self.line

    def close(self) -> None:
        self.w.close()


def cancel_trace(path: Path, *, close: bool = True) -> int:
    """A run completes; the client then cancels it and gets the documented refusal."""
    with path.open("wb") as f:
        n = Native(f)
        n.http("POST", "/threads/thread_1/runs", run("queued"))
        n.http("GET", "/threads/thread_1/runs/run_1", run("completed"))
        line = n.http(
            "POST",
            "/threads/thread_1/runs/run_1/cancel",
            error(format_error("cancel_not_allowed", status="completed")),
            status=400,
        )
        if close:  # else the footer is missing: the trace looks cut short
            n.close()
    return line


def permissive_trace(path: Path) -> None:
    """A cancellation that ended in completed: needs an inferred edge."""
    lines = [run("in_progress"), run("cancelling"), run("completed")]
    path.write_text("".join(json.dumps(o) + "\n" for o in lines), encoding="utf-8")


def test_lesson_conforms(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(LESSON)]) == 0
    out = capsys.readouterr().out
    assert out == "conforms at strict: 1 run, 5 observations, 0 errors, 0 warnings\n"


def test_violation_in_a_native_trace(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trace = tmp_path / "trace.jsonl"
    line = cancel_trace(trace)
    assert main([str(trace)]) == 1
    out = capsys.readouterr().out
    assert out.splitlines()[0] == f"run run_1  thread thread_1  ({trace}:2)"
    assert f"  error   client.cancel_illegal  {trace}:{line} [#{line - 1}]" in out
    assert out.splitlines()[-1].startswith("does not conform at strict: 1 run, 1 failing")


def test_truncated_trace_is_flagged_and_still_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = tmp_path / "cut.jsonl"
    cancel_trace(trace, close=False)
    assert main([str(trace), "--format", "json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert [v["code"] for v in doc["other"]] == ["input.truncated"]
    assert [v["code"] for r in doc["runs"] for v in r["violations"]] == ["client.cancel_illegal"]


def test_missing_file_is_unusable_and_the_rest_is_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.jsonl"
    assert main([str(missing), str(LESSON)]) == 2
    captured = capsys.readouterr()
    assert (
        captured.err
        == f"runmodel check: {missing}: unusable: cannot open: No such file or directory\n"
    )
    assert "Traceback" not in captured.err
    assert "input.io_error" in captured.out
    assert f"unusable: {missing}" in captured.out
    assert "1 run, 5 observations" in captured.out


def test_a_file_with_nothing_to_check_is_unusable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junk = tmp_path / "notes.txt"
    junk.write_text("just some notes\n", encoding="utf-8")
    assert main([str(junk)]) == 2
    assert "input.unknown_format" in capsys.readouterr().out


def test_streams_in_a_native_trace(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trace = tmp_path / "stream.jsonl"
    with trace.open("wb") as f:
        n = Native(f)
        ex = n.http("POST", "/threads/thread_1/runs", None, request={"stream": True}, stream=True)
        n.event(ex, "thread.run.created", run("queued"))
        n.event(ex, "thread.run.queued", run("queued"))
        n.event(ex, "thread.run.in_progress", run("in_progress"))
        n.event(ex, "thread.run.completed", run("completed"))
        n.event(ex, "done", "[DONE]")
        line = n.event(ex, "thread.run.completed", run("completed"))
        n.close()
    assert main([str(trace), "--format", "json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    (r,) = doc["runs"]
    assert r["statuses"] == ["queued", "in_progress", "completed"]
    assert [(v["code"], v["line"]) for v in r["violations"]] == [("stream.after_done", line)]


def test_bad_arguments_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(LESSON), "--strictness", "lax"]) == 2
    assert "invalid choice: 'lax'" in capsys.readouterr().err


@pytest.mark.parametrize("grace", ["-5", "nan", "inf", "soon"])
def test_expiry_grace_must_be_a_non_negative_number(
    grace: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([str(LESSON), "--expiry-grace", grace]) == 2
    err = capsys.readouterr().err
    assert "argument --expiry-grace" in err
    assert repr(grace) in err
    assert "Traceback" not in err


def test_strictness(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    objs = tmp_path / "objs.jsonl"
    permissive_trace(objs)
    assert main([str(objs)]) == 1
    out = capsys.readouterr().out
    assert "permissive edges needed: cancelling → completed (complete, server, I/X)" in out
    assert "the input would conform at --strictness permissive" in out
    assert main([str(objs), "--strictness", "permissive"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("conforms at permissive: 1 run")
    assert "permissive edges used: cancelling → completed (complete, server, I/X)" in out


def test_json_report(tmp_path: Path) -> None:
    trace = tmp_path / "trace.jsonl"
    line = cancel_trace(trace)
    report = tmp_path / "report.json"
    assert main([str(trace), str(LESSON), "--format", "json", "--output", str(report)]) == 1
    doc = json.loads(report.read_text(encoding="utf-8"))
    assert (doc["format"], doc["version"], doc["strictness"]) == (
        JSON_FORMAT,
        JSON_VERSION,
        "strict",
    )
    assert doc["summary"]["exit_code"] == 1
    assert doc["summary"]["runs"] == 2
    runs = {r["run_id"]: r for r in doc["runs"]}
    assert runs["run_8XqQ2w5cO5H3te3GdeQxSrfB"]["violations"] == []
    (v,) = runs["run_1"]["violations"]
    assert (v["code"], v["file"], v["line"], v["severity"]) == (
        "client.cancel_illegal",
        str(trace),
        line,
        "error",
    )
    assert set(v) == {
        "code",
        "severity",
        "message",
        "run_id",
        "subject",
        "file",
        "line",
        "where",
        "seq",
        "observed",
        "allowed",
        "grade",
        "sources",
        "hint",
        "path",
        "needs",
        "rule",
        "count",
    }
    assert doc["coverage"]["edges"]["run"]["queued -> in_progress"] == 2


def test_junit_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trace = tmp_path / "trace.jsonl"
    cancel_trace(trace)
    assert main([str(trace), str(LESSON), "--format", "junit"]) == 1
    root = ET.fromstring(capsys.readouterr().out)
    assert root.tag == "testsuites"
    (suite,) = root
    assert (suite.get("tests"), suite.get("failures")) == ("2", "1")
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert set(cases) == {"run_1", "run_8XqQ2w5cO5H3te3GdeQxSrfB"}
    failure = cases["run_1"].find("failure")
    assert failure is not None
    assert failure.get("type") == "client.cancel_illegal"
    assert cases["run_8XqQ2w5cO5H3te3GdeQxSrfB"].find("failure") is None


def test_coverage_in_text(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(LESSON), "--coverage"]) == 0
    out = capsys.readouterr().out
    assert "  run: 2/17 edges exercised: queued → in_progress ×1, in_progress → completed ×1" in out


def test_unwritable_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(LESSON), "--output", str(tmp_path / "no" / "dir" / "r.txt")]) == 2
    assert "cannot write" in capsys.readouterr().err


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_only_on_a_terminal_for_large_input(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(check_cli, "_PROGRESS_BYTES", 1)  # any input is "large"
    monkeypatch.setattr(check_cli, "_PROGRESS_EVERY", 2)
    assert main([str(LESSON)]) == 0
    assert capsys.readouterr().err == ""  # stderr is not a terminal here
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main([str(LESSON)]) == 0
    shown = terminal.getvalue()
    assert "\rchecking lesson_runs.jsonl: 4 items" in shown
    assert shown.endswith("\r\033[K")  # the line is cleared before the report


# -- nothing checkable, and warnings that must not pass silently -------------------------------

_CHAT_CASSETTE = """\
interactions:
- request:
    body: '{"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}'
    headers: {}
    method: POST
    uri: https://api.openai.com/v1/chat/completions
  response:
    body:
      string: '{"id": "chatcmpl-1", "object": "chat.completion", "choices": []}'
    headers: {}
    status: {code: 200, message: OK}
version: 1
"""


def test_a_cassette_of_chat_completions_is_unusable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cassette = tmp_path / "chat.yaml"
    cassette.write_text(_CHAT_CASSETTE, encoding="utf-8")
    assert main([str(cassette), "--format", "json"]) == 2
    doc = json.loads(capsys.readouterr().out)
    (v,) = doc["other"]
    assert v["code"] == "input.unusable"
    assert "no run, run step or message" in v["message"]
    assert "read as vcr-yaml: 1 HTTP exchange" in v["message"]
    assert (doc["summary"]["runs"], doc["summary"]["exit_code"]) == (0, 2)


def test_an_ordinary_json_config_is_unusable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "settings.json"
    config.write_text('{"name": "app", "debug": true, "port": 8080}\n', encoding="utf-8")
    assert main([str(config)]) == 2
    out = capsys.readouterr().out
    assert out.splitlines()[-1] == f"unusable: {config}"
    assert "unusable input at strict: 0 runs" in out


def test_a_documented_refusal_is_an_observation_of_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a file of refused submits and nothing else: the refusal names each run's status
    trace = tmp_path / "refused.jsonl"
    with trace.open("wb") as f:
        n = Native(f)
        refusal = error(format_error("submit_not_accepted", status="in_progress"))
        n.http("POST", "/threads/thread_1/runs/run_1/submit_tool_outputs", refusal, status=400)
        n.close()
    assert main([str(trace), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    (r,) = doc["runs"]
    assert (r["run_id"], r["statuses"], r["violations"]) == ("run_1", ["in_progress"], [])


def unknown_status_trace(path: Path) -> None:
    """A run that goes into a status the model does not know."""
    lines = [run("queued"), run("in_progress"), run("pondering")]
    path.write_text("".join(json.dumps(o) + "\n" for o in lines), encoding="utf-8")


def test_conforming_only_with_warnings_says_so_and_which(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    objs = tmp_path / "objs.jsonl"
    unknown_status_trace(objs)
    assert main([str(objs)]) == 0
    last = capsys.readouterr().out.splitlines()[-1]
    assert last.startswith("conforms only with warnings (status.unknown) at strict: 1 run")
    assert main([str(LESSON)]) == 0
    assert capsys.readouterr().out.startswith("conforms at strict")


def test_fail_on_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    objs = tmp_path / "objs.jsonl"
    unknown_status_trace(objs)
    assert main([str(objs), "--fail-on", "warning"]) == 1
    last = capsys.readouterr().out.splitlines()[-1]
    assert last.startswith("does not conform: warnings fail the check (status.unknown) at strict")
    assert main([str(objs), "--fail-on", "warning", "--format", "json"]) == 1
    summary = json.loads(capsys.readouterr().out)["summary"]
    assert (summary["fail_on"], summary["exit_code"], summary["errors"]) == ("warning", 1, 0)
    assert main([str(LESSON), "--fail-on", "warning"]) == 0
    capsys.readouterr()
    assert main([str(LESSON), "--fail-on", "info"]) == 2
    assert "invalid choice: 'info'" in capsys.readouterr().err


def test_fail_on_warning_fails_the_junit_case_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    objs = tmp_path / "objs.jsonl"
    unknown_status_trace(objs)
    for fail_on, failures in (("error", "0"), ("warning", "1")):
        main([str(objs), "--format", "junit", "--fail-on", fail_on])
        (suite,) = ET.fromstring(capsys.readouterr().out)
        assert suite.get("failures") == failures, fail_on
