"""``runmodel conform``: the scenario suite passes against a conforming server, over loopback too,
and fails with the right violation against a server that breaks the model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conformance.emulator import Emulator
from conformance.emulator import state as emulator_state
from conformance.emulator.clock import Clock
from conformance.emulator.server import EmulatorServer
from runmodel.cli import main


def _results(capsys: Any, args: list[str]) -> tuple[int, dict[str, dict[str, Any]]]:
    code = main(["conform", "--format", "json", *args])
    rows = json.loads(capsys.readouterr().out)
    return code, {r["scenario"]: r for r in rows}


def test_every_scenario_passes_on_the_embedded_emulator(capsys: Any) -> None:
    code, rows = _results(capsys, [])
    assert code == 0
    every = ("plain", "parallel", "rounds", "cancel", "cancel-finished", "submit-outside",
             "second-run", "locked-thread", "stream", "pagination", "expiry")  # fmt: skip
    assert {name: r["result"] for name, r in rows.items()} == dict.fromkeys(every, "pass")


def test_it_passes_against_runmodel_serve_over_loopback(capsys: Any) -> None:
    # a fast real clock, and a short poll hint so that the SDK's poll helper waits little
    server = EmulatorServer(Emulator(clock=Clock(real=True, speed=50.0), poll_after_ms=50))
    with server:
        code, rows = _results(capsys, ["--base-url", server.base_url, "--api-key", "sk-x"])
    assert code == 0
    assert not [r for r in rows.values() if r["result"] == "fail"]
    assert rows["expiry"]["result"] == "skip"  # ten real minutes, without --slow
    assert rows["plain"]["result"] == rows["second-run"]["result"] == "pass"


def test_a_server_that_breaks_the_model_fails_with_the_violation(
    capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_enter = emulator_state.Store._enter

    def sloppy(self: Any, run: Any, dest: str, t: float) -> None:  # ends cancels as completed
        real_enter(self, run, "completed" if dest == "cancelled" else dest, t)

    monkeypatch.setattr(emulator_state.Store, "_enter", sloppy)
    code, rows = _results(capsys, ["--scenarios", "plain,cancel"])
    assert code == 1
    assert rows["plain"]["result"] == "pass"
    assert rows["cancel"]["result"] == "fail"
    assert any(d.startswith("run.illegal_transition") for d in rows["cancel"]["details"])


def test_a_server_that_accepts_an_illegal_submit_fails(
    capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def accept(self: Any, *args: Any, **kwargs: Any) -> None:  # takes any outputs, any time
        return None

    monkeypatch.setattr(emulator_state.Store, "submit", accept)
    code, rows = _results(capsys, ["--scenarios", "submit-outside"])
    assert code == 1
    details = rows["submit-outside"]["details"]
    assert rows["submit-outside"]["result"] == "fail"
    assert any(d.startswith("server.accepted_illegal") for d in details), details


def test_text_report_and_arguments(capsys: Any) -> None:
    assert main(["conform", "--scenarios", "plain,expiry"]) == 0
    out = capsys.readouterr().out
    assert "PASS  plain" in out
    assert "2 passed, 0 failed, 0 skipped" in out
    assert main(["conform", "--scenarios", "nope"]) == 2
    assert "unknown scenario nope" in capsys.readouterr().err


@pytest.mark.parametrize("listed", ["", " , "])
def test_an_empty_scenario_list_is_a_usage_error(listed: str, capsys: Any) -> None:
    assert main(["conform", "--scenarios", listed]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # nothing ran
    assert f"runmodel conform: --scenarios {listed!r}: names no scenario; choose from plain," in (
        captured.err
    )


def test_an_unreachable_server_is_a_clear_error(capsys: Any) -> None:
    code = main(["conform", "--base-url", "http://127.0.0.1:9/v1", "--api-key", "sk-x"])
    assert code == 2
    err = capsys.readouterr().err
    assert "cannot reach http://127.0.0.1:9/v1" in err
    assert "Traceback" not in err


def test_a_rejected_key_is_a_clear_error(capsys: Any) -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Refuse(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b'{"error": {"message": "Incorrect API key", "type": "invalid_request_error"}}'
            self.send_response(401)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Refuse)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/v1"
        assert main(["conform", "--base-url", url, "--api-key", "sk-wrong"]) == 2
    finally:
        server.shutdown()
        server.server_close()
    err = capsys.readouterr().err
    assert "rejected the API key" in err
    assert "Traceback" not in err


def test_an_existing_trace_is_kept_unless_forced(tmp_path: Path, capsys: Any) -> None:
    trace = tmp_path / "conform.jsonl"
    trace.write_text("yesterday's trace\n", encoding="utf-8")
    assert main(["conform", "--scenarios", "plain", "--trace", str(trace)]) == 2
    captured = capsys.readouterr()
    assert captured.err == (
        f"runmodel conform: {trace} already exists; choose another file, "
        "or add --force to overwrite it\n"
    )
    assert captured.out == ""
    assert trace.read_text(encoding="utf-8") == "yesterday's trace\n"
    assert main(["conform", "--scenarios", "plain", "--trace", str(trace), "--force"]) == 0
    assert trace.read_bytes().startswith(b'{"kind":"header"')
