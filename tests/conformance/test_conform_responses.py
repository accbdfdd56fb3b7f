"""``runmodel conform --api responses``: the Responses suite passes against a conforming server
(in process at both strictnesses, and over loopback), and fails, in the right scenario with the
right finding, against small wrong servers made from the emulator."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qs, urlencode

import orjson
import pytest

from conformance.conform_responses import SCENARIOS
from conformance.emulator import Emulator
from conformance.emulator.clock import Clock
from conformance.emulator.server import EmulatorServer
from runmodel.cli import main

_REAL_HANDLE = Emulator.handle


def _results(capsys: Any, args: list[str]) -> tuple[int, dict[str, dict[str, Any]]]:
    code = main(["conform", "--api", "responses", "--format", "json", *args])
    rows = json.loads(capsys.readouterr().out)
    return code, {r["scenario"]: r for r in rows}


@pytest.mark.parametrize("strictness", ["strict", "permissive"])
def test_every_scenario_passes_on_the_embedded_emulator(strictness: str, capsys: Any) -> None:
    code, rows = _results(capsys, ["--strictness", strictness])
    assert {name: r["result"] for name, r in rows.items()} == dict.fromkeys(SCENARIOS, "pass"), rows
    assert code == 0


def test_it_passes_against_runmodel_serve_over_loopback(capsys: Any) -> None:
    server = EmulatorServer(Emulator(clock=Clock(real=True, speed=50.0), poll_after_ms=50))
    with server:
        code, rows = _results(capsys, ["--base-url", server.base_url, "--api-key", "sk-x"])
    assert not [r for r in rows.values() if r["result"] == "fail"], rows
    assert code == 0
    assert rows["background"]["result"] == rows["round"]["result"] == "pass"


def _wrong(
    monkeypatch: pytest.MonkeyPatch,
    change: Any,
) -> None:
    """Make every emulator answer through `change(emulator, method, path, query, headers, body,
    real)`, which may call `real(...)` (the emulator's own answer) and alter it."""

    def handle(
        self: Emulator,
        method: str,
        path: str,
        query: str = "",
        headers: Any = None,
        body: bytes = b"",
    ) -> Any:
        def real(method: str, path: str, query: str = "", body: bytes = b"") -> Any:
            return _REAL_HANDLE(self, method, path, query, headers, body)

        return change(method, path, query, body, real)

    monkeypatch.setattr(Emulator, "handle", handle)


def _details(rows: dict[str, dict[str, Any]], name: str) -> str:
    assert rows[name]["result"] == "fail", rows[name]
    return "\n".join(rows[name]["details"])


def test_a_server_that_cancels_a_foreground_response_fails(
    capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def change(method: str, path: str, query: str, body: bytes, real: Any) -> Any:
        reply = real(method, path, query, body)
        if path.endswith("/cancel") and reply.status == 400:  # answers it as it stands
            reply = real("GET", path.removesuffix("/cancel"))
        return reply

    _wrong(monkeypatch, change)
    code, rows = _results(capsys, ["--scenarios", "background,cancel-fg"])
    assert code == 1
    assert rows["background"]["result"] == "pass"
    details = _details(rows, "cancel-fg")
    assert "the server accepted it" in details
    assert "response.cancel.background_only" in details


def test_a_server_that_repeats_an_event_on_resumption_fails(
    capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def change(method: str, path: str, query: str, body: bytes, real: Any) -> Any:
        asked = parse_qs(query)
        if "starting_after" in asked:  # resumes from the event asked for, not after it
            after = int(asked["starting_after"][0])
            asked["starting_after"] = [str(after - 1)]
            query = urlencode(asked, doseq=True)
        return real(method, path, query, body)

    _wrong(monkeypatch, change)
    code, rows = _results(capsys, ["--scenarios", "stream,resume"])
    assert code == 1
    assert rows["stream"]["result"] == "pass"
    assert re.search(r"response\.stream\.(increasing|resume_suffix)", _details(rows, "resume"))


def test_a_server_that_accepts_a_round_with_a_missing_output_fails(
    capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def change(method: str, path: str, query: str, body: bytes, real: Any) -> Any:
        reply = real(method, path, query, body)
        if method != "POST" or path.rstrip("/") != "/v1/responses" or reply.status != 400:
            return reply
        sent = orjson.loads(body)
        parent = orjson.loads(real("GET", f"/v1/responses/{sent['previous_response_id']}").body)
        given = {i.get("call_id") for i in sent["input"] if isinstance(i, dict)}
        sent["input"] += [  # the outputs the client left out, filled in behind its back
            {"type": "function_call_output", "call_id": o["call_id"], "output": "0"}
            for o in parent["output"]
            if o["type"] == "function_call" and o["call_id"] not in given
        ]
        return real(method, path, query, orjson.dumps(sent))

    _wrong(monkeypatch, change)
    code, rows = _results(capsys, ["--scenarios", "round,round-missing"])
    assert code == 1
    assert rows["round"]["result"] == "pass"
    details = _details(rows, "round-missing")
    assert "the server accepted it" in details
    assert "server.accepted_illegal: HTTP 200 to a round answering resp_" in details


def test_scenario_names_are_those_of_the_chosen_api(capsys: Any) -> None:
    assert main(["conform", "--api", "responses", "--scenarios", "background,plain"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "runmodel conform: --scenarios 'background,plain': unknown scenario plain; "
        f"choose from {','.join(SCENARIOS)} (--api responses)\n"
    )
    assert main(["conform", "--scenarios", "background"]) == 2  # the default is --api runs
    assert "unknown scenario background; choose from plain," in capsys.readouterr().err


def test_text_report(capsys: Any) -> None:
    assert main(["conform", "--api", "responses", "--scenarios", "background,delete"]) == 0
    out = capsys.readouterr().out
    assert "PASS  background" in out
    assert "PASS  delete" in out
    assert out.endswith("2 passed, 0 failed, 0 skipped\n")


def test_an_unreachable_server_is_a_clear_error(capsys: Any) -> None:
    args = ["--api", "responses", "--base-url", "http://127.0.0.1:9/v1", "--api-key", "sk-x"]
    assert main(["conform", *args]) == 2
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
        assert main(["conform", "--api", "responses", "--base-url", url, "--api-key", "k"]) == 2
    finally:
        server.shutdown()
        server.server_close()
    err = capsys.readouterr().err
    assert "rejected the API key" in err
    assert "Traceback" not in err
