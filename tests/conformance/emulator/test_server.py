"""``runmodel serve``: the same emulator over real loopback sockets, and its command line."""

from __future__ import annotations

import argparse
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from emucheck import create_assistant, problems_in_log

from conformance.cli.serve import configure, run
from conformance.emulator import LESSON_ASSISTANT, Emulator
from conformance.emulator.server import EmulatorServer

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def served() -> Iterator[tuple[Emulator, openai.OpenAI]]:
    """An emulator on a free loopback port; each request moves its virtual clock by a second."""
    emu = Emulator(latency=1.0, poll_after_ms=1)
    with EmulatorServer(emu, "127.0.0.1", 0) as server:
        assert server.base_url.startswith("http://127.0.0.1:")
        client = openai.OpenAI(
            api_key="sk-test",
            base_url=server.base_url,
            max_retries=0,
            _strict_response_validation=True,
        )
        yield emu, client
        client.close()
    assert problems_in_log(emu) == []


def test_poll_submit_and_errors_over_http(served: tuple[Emulator, openai.OpenAI]) -> None:
    emu, client = served
    assistant_id = create_assistant(client, **LESSON_ASSISTANT).id
    thread = client.beta.threads.create()
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant_id)
    assert run.status == "requires_action"
    with pytest.raises(openai.BadRequestError) as info:
        client.beta.threads.messages.create(thread_id=thread.id, role="user", content="x")
    assert (
        info.value.body["message"]
        == f"Can't add messages to {thread.id} while a run {run.id} is active."
    )  # type: ignore[index]
    calls = run.required_action.submit_tool_outputs.tool_calls  # type: ignore[union-attr]
    run = client.beta.threads.runs.submit_tool_outputs_and_poll(
        run_id=run.id,
        thread_id=thread.id,
        tool_outputs=[{"tool_call_id": c.id, "output": "9"} for c in calls],
    )
    assert run.status == "completed"
    with pytest.raises(openai.NotFoundError) as info:
        client.beta.threads.runs.retrieve("run_x", thread_id=thread.id)
    assert info.value.body["message"] == "No run found with id 'run_x'."  # type: ignore[index]
    assert all(r.path.startswith("/v1/") for r in emu.requests)


def test_streams_over_chunked_http(served: tuple[Emulator, openai.OpenAI]) -> None:
    emu, client = served
    emu.script = "start+1, require_action(2)+2, start+1, complete+3"
    assistant_id = create_assistant(client, **LESSON_ASSISTANT).id
    with client.beta.threads.create_and_run_stream(assistant_id=assistant_id) as stream:
        events = [e.event for e in stream]
        run = stream.current_run
    assert events[0] == "thread.created"
    assert events[-1] == "thread.run.requires_action"
    assert run is not None
    calls = run.required_action.submit_tool_outputs.tool_calls  # type: ignore[union-attr]
    with client.beta.threads.runs.submit_tool_outputs_stream(
        thread_id=run.thread_id,
        run_id=run.id,
        tool_outputs=[{"tool_call_id": c.id, "output": "1"} for c in calls],
    ) as stream:
        text = "".join(stream.text_deltas)
        final = stream.get_final_run()
    assert final.status == "completed"
    assert text == "根据计算结果：1"


def test_dropped_connection_over_http(served: tuple[Emulator, openai.OpenAI]) -> None:
    emu, client = served
    emu.faults.schedule("disconnect")
    with pytest.raises(openai.APIConnectionError):
        client.beta.threads.create()
    assert client.beta.threads.create().id in emu.store.threads
    assert len(emu.store.threads) == 1


def test_a_client_hanging_up_is_not_an_error(capfd: pytest.CaptureFixture[str]) -> None:
    with EmulatorServer(Emulator()) as server:
        for _ in range(3):  # reset mid-request, and while the connection waits for a request
            conn = socket.create_connection(("127.0.0.1", server.port))
            conn.sendall(b"GET /v1/threads/x HTTP/1.1\r\nHost: x\r\n")
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()
        client = openai.OpenAI(api_key="sk-test", base_url=server.base_url, max_retries=0)
        with pytest.raises(openai.BadRequestError):  # still serving (no beta header: a 400)
            client.get("/threads/x", cast_to=object)
        client.close()
    assert capfd.readouterr().err == ""


def test_racing_clients_over_http(served: tuple[Emulator, openai.OpenAI]) -> None:
    emu, client = served
    emu.script = "start+1, complete+1000"
    assistant_id = create_assistant(client, model="gpt-4o").id
    thread = client.beta.threads.create()
    barrier = threading.Barrier(8)
    outcomes: list[str] = []

    def worker() -> None:
        own = openai.OpenAI(
            api_key="k", base_url=client.base_url, max_retries=0, _strict_response_validation=True
        )
        barrier.wait()
        try:
            outcomes.append(
                own.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant_id).id
            )
        except openai.BadRequestError:
            outcomes.append("refused")
        finally:
            own.close()

    workers = [threading.Thread(target=worker) for _ in range(8)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert sorted(outcomes).count("refused") == 7
    assert emu.store.threads[thread.id].runs == [o for o in outcomes if o != "refused"]


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    configure(parser)
    return parser.parse_args(list(argv))


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--script", "start, complet"],
            "runmodel serve: --script: column 8: 'complet' is not a move",
        ),
        (
            ["--script", "start"],
            "runmodel serve: --script: the script leaves the run 'in_progress'",
        ),
        (["--faults", "boom=1"], "runmodel serve: --faults: 'boom=1': expected KIND=PROBABILITY"),
        (["--speed", "0"], "runmodel serve: --speed must be positive"),
        (["--latency", "-1"], "runmodel serve: --latency must not be negative"),
        (["--port", "70000"], "runmodel serve: --port 70000 is not a port number (0-65535)"),
        (["--poll-after-ms", "-5"], "runmodel serve: --poll-after-ms -5 must not be negative"),
        (
            ["--host", "0.0.0.0"],
            "runmodel serve: --host 0.0.0.0 is not a loopback address; "
            "add --allow-remote-bind to listen there anyway",
        ),
    ],
)
def test_bad_arguments_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(_args(*argv)) == 2
    assert message in capsys.readouterr().err


def test_port_in_use_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with EmulatorServer(Emulator()) as taken:
        assert run(_args("--port", str(taken.port))) == 2
    assert f"runmodel serve: cannot listen on 127.0.0.1:{taken.port}" in capsys.readouterr().err


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_serve_command_runs_until_ctrl_c(stop: signal.Signals) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "conformance.emulator",
            "--port",
            "0",
            "--speed",
            "1000",
            "--poll-after-ms",
            "5",
            "--script",
            "start+1, complete+5",
            "--faults",
            "slow=0.5",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("runmodel serve: listening on http://127.0.0.1:")
        url = first.rsplit(" ", 1)[1].strip()
        client = openai.OpenAI(
            api_key="k", base_url=url, max_retries=0, _strict_response_validation=True
        )
        assistant = create_assistant(client, model="gpt-4o")
        run_ = client.beta.threads.create_and_run_poll(assistant_id=assistant.id)
        assert run_.status == "completed"
        client.close()
    finally:
        proc.send_signal(stop)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert "Traceback" not in err
    assert err == ""
    assert "runmodel serve: stopped after" in out


def test_verbose_serve_echoes_its_options_and_logs_each_request() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-m", "runmodel", "serve", "--verbose", "--speed", "1000"]
    argv += ["--poll-after-ms", "5", "--script", "start+1, complete+5", "--faults", "slow=0.5"]
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT
    )
    try:
        assert proc.stdout is not None
        banner = [proc.stdout.readline() for _ in range(4)]
        url = banner[0].rsplit(" ", 1)[1].strip()
        client = openai.OpenAI(api_key="k", base_url=url, max_retries=0)
        assistant = create_assistant(client, model="gpt-4o")
        run_ = client.beta.threads.create_and_run_poll(assistant_id=assistant.id)
        assert run_.status == "completed"
        client.close()
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "script: start+1, complete+5; faults: slow=0.5; speed: 1000x" in banner[2]
    assert "poll-after-ms: 5; strictness: strict; seed: 0" in banner[2]
    assert banner[3] == "  Ctrl-C stops; each request is printed on stderr\n"
    assert "runmodel serve: stopped after" in out
    lines = err.splitlines()
    assert "  POST /v1/assistants → 200" in lines
    assert "  POST /v1/threads/runs → 200 (run queued)" in lines
    polls = [line for line in lines if line.startswith(f"  GET /v1/threads/{run_.thread_id}/")]
    assert polls[-1] == f"  GET /v1/threads/{run_.thread_id}/runs/{run_.id} → 200 (run completed)"
    assert "Traceback" not in err
