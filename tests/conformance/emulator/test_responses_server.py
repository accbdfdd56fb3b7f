"""``runmodel serve`` serves responses: the SDK over real loopback sockets, a stream that drops
mid-way and resumes, and ``--response-script`` on the command line."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from conformance.cli.serve import configure, run
from conformance.emulator import Emulator
from conformance.emulator.server import EmulatorServer
from conformance.emulator.transport import http_module

ROOT = Path(__file__).resolve().parents[3]
_BROKEN = (openai.APIConnectionError, http_module().RemoteProtocolError)
"""What a client sees of a body that breaks off: openai 3.x wraps it, older SDKs do not."""


@pytest.fixture
def served() -> Iterator[tuple[Emulator, openai.OpenAI]]:
    """An emulator on a free loopback port; each request moves its virtual clock by a second."""
    emu = Emulator(latency=1.0)
    with EmulatorServer(emu, "127.0.0.1", 0) as server:
        client = openai.OpenAI(
            api_key="sk-test",
            base_url=server.base_url,
            max_retries=0,
            _strict_response_validation=True,
        )
        yield emu, client
        client.close()


def test_background_poll_cancel_and_delete_over_http(
    served: tuple[Emulator, openai.OpenAI],
) -> None:
    emu, client = served
    created = client.responses.create(model="m", input="x", background=True)
    assert created.status == "queued"
    seen = [created.status]
    while seen[-1] in ("queued", "in_progress"):
        seen.append(client.responses.retrieve(created.id).status)
    assert seen[-1] == "completed"
    assert set(seen) == {"queued", "in_progress", "completed"}
    emu.response_script = "start+1, complete+60"
    other = client.responses.create(model="m", input="x", background=True)
    assert client.responses.cancel(other.id).status == "cancelled"
    assert client.responses.cancel(other.id).status == "cancelled"
    items = client.responses.input_items.list(other.id).data
    assert len(items) == 1
    client.responses.delete(other.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(other.id)


def test_a_foreground_create_waits_over_http(served: tuple[Emulator, openai.OpenAI]) -> None:
    emu, client = served
    resp = client.responses.create(model="m", input="x")
    assert resp.status == "completed"
    assert resp.output_text
    assert emu.requests[-1].json()["id"] == resp.id  # the log holds what was answered
    with pytest.raises(openai.BadRequestError, match="background=true"):
        client.responses.cancel(resp.id)


def test_a_stream_dropped_over_http_resumes_exactly_once(
    served: tuple[Emulator, openai.OpenAI],
) -> None:
    emu, client = served
    emu.faults.schedule("stream_drop", method="POST", path="/responses", events=4)
    stream = client.responses.create(model="m", input="x", background=True, stream=True)
    seen: list[Any] = []
    with pytest.raises(_BROKEN):
        _drain(stream, seen)
    assert len(seen) == 4
    rid = seen[0].response.id
    seen += list(
        client.responses.retrieve(rid, stream=True, starting_after=seen[-1].sequence_number)
    )
    numbers = [e.sequence_number for e in seen]
    assert numbers == list(range(len(seen)))
    assert seen[-1].type == "response.completed"
    assert len(seen) == len(emu.responses[rid].events)
    assert client.responses.retrieve(rid).status == "completed"  # the server is still fine


def _drain(stream: Any, into: list[Any]) -> None:
    for event in stream:
        into.append(event)


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    configure(parser)
    return parser.parse_args(argv)


@pytest.mark.parametrize(
    ("script", "message"),
    [
        ("start+1", "leaves the response 'in_progress'"),
        ("start, complete; on_cancel=complete+1", "on_cancel"),
        ("start, fail(oops)", "not one of"),
    ],
)
def test_a_bad_response_script_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], script: str, message: str
) -> None:
    assert run(_args("--response-script", script)) == 2
    err = capsys.readouterr().err
    assert err.startswith("runmodel serve: --response-script: ")
    assert message in err
    assert "Traceback" not in err


def test_the_response_script_shows_in_the_help() -> None:
    parser = argparse.ArgumentParser()
    configure(parser)
    assert "--response-script" in parser.format_help()
    assert _args("--response-script", "start, complete(1)+2").response_script == (
        "start, complete(1)+2"
    )


def test_serve_runs_the_response_script_and_logs_responses() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-m", "runmodel", "serve", "--verbose", "--speed", "1000"]
    argv += ["--response-script", "start+1, stop_incomplete(content_filter)+5"]
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT
    )
    try:
        assert proc.stdout is not None
        banner = [proc.stdout.readline() for _ in range(4)]
        url = banner[0].rsplit(" ", 1)[1].strip()
        client = openai.OpenAI(api_key="k", base_url=url, max_retries=0)
        resp = client.responses.create(model="m", input="x", background=True)
        while resp.status in ("queued", "in_progress"):
            time.sleep(0.001)
            resp = client.responses.retrieve(resp.id)
        assert resp.status == "incomplete"
        client.close()
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert "runmodel serve: stopped after" in out
    assert proc.returncode == 0, err
    assert "response script: start+1, stop_incomplete(content_filter)+5" in banner[2]
    lines = err.splitlines()
    assert "  POST /v1/responses → 200 (response queued)" in lines
    assert f"  GET /v1/responses/{resp.id} → 200 (response incomplete)" in lines
    assert "Traceback" not in err
