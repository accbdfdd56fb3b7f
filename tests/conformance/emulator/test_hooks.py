"""The emulator's public hooks for a harness: a reply hook whose reply is answered and logged,
and read-only access to the stored runs (not advanced, unlike `run_object`)."""

from __future__ import annotations

import orjson
import pytest

from conformance.emulator import Emulator, Reply, Request


def test_on_reply_changes_what_is_answered_and_logged() -> None:
    emu = Emulator()
    thread_id, run_id = emu.start_run("start+1, complete+1")
    seen: list[bytes | None] = []

    def rename(rec: Request, reply: Reply) -> Reply:
        if rec.method == "GET" and rec.run_id == run_id:
            reply.body = orjson.dumps({**orjson.loads(reply.body), "status": "renamed"})
        return reply

    emu.on_reply = rename
    emu.on_request = lambda rec: seen.append(rec.response)  # after the reply hook
    with emu.virtual_time():
        run = emu.client(strict=False).beta.threads.runs.retrieve(run_id, thread_id=thread_id)
    assert run.status == "renamed"
    assert emu.requests[-1].json()["status"] == "renamed"
    assert seen == [emu.requests[-1].response]
    assert emu.run_object(run_id)["status"] != "renamed"  # the stored run is untouched


def test_runs_are_read_without_advancing_them() -> None:
    emu = Emulator()
    thread_id, run_id = emu.start_run("start+1, complete+1")
    assert list(emu.runs) == [run_id]
    assert emu.thread_of(run_id) == thread_id
    wake = emu.next_wake(run_id)
    assert wake is not None
    assert wake > emu.clock.now()
    emu.clock.advance(5)
    assert emu.runs[run_id].status == "queued"  # not advanced by reading
    assert emu.run_object(run_id)["status"] == "completed"  # advanced to now
    assert emu.next_wake(run_id) is None  # terminal: nothing more happens by itself
    with pytest.raises(TypeError):
        emu.runs[run_id] = emu.runs[run_id]  # type: ignore[index]  # a read-only view
