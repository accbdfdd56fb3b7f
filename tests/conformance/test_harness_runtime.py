"""The harness's runtime: every way a client waits is virtual, a blocked client is stopped and
located, unusable targets are usage errors, and the kit's frames stay out of a user's failure."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import anyio
import openai
import pytest
import runtime_miniatures as rm

from conformance.emulator import Emulator
from conformance.harness import (
    CannotCheck,
    CheckInterrupted,
    ClientCheckFailed,
    Progress,
    check_client,
    play,
)

_LIFECYCLE = "start+1, complete+5"
_CANCELLED = "start+1, complete+30; on_cancel=finish_cancel+5; cancel_at=2"

SLEEPERS = [
    rm.sleeps_imported_by_name,
    rm.sleeps_by_alias,
    rm.sleeps_through_module_alias,
    rm.waits_on_event,
    rm.waits_on_condition,
    rm.deadline_by_monotonic,
    rm.async_sleeps_imported_by_name,
    rm.anyio_sleeper,
    rm.imports_sleep_late,
]


def _line_of(fn: Any, text: str) -> int:
    """The line of `text` in `fn`'s source file, at or after the line `fn` starts on."""
    lines = Path(fn.__code__.co_filename).read_text().splitlines()
    start = fn.__code__.co_firstlineno
    return next(i for i in range(start, len(lines) + 1) if text in lines[i - 1])


@pytest.mark.parametrize("fn", SLEEPERS, ids=lambda f: f.__name__)
def test_every_way_of_sleeping_is_on_the_virtual_clock(fn: Any) -> None:
    # a real sleep would be invisible to the clock: the client would seem to poll without sleeping
    assert play(fn, _LIFECYCLE) is None
    assert play(fn, _CANCELLED) is None


@pytest.mark.parametrize("fn", SLEEPERS[:3] + SLEEPERS[6:8], ids=lambda f: f.__name__)
def test_a_search_of_a_correct_sleeper_passes(fn: Any) -> None:
    summary = check_client(fn, max_examples=15)
    assert summary.examples == 15


def test_each_sleep_is_recorded_with_the_door_it_went_through() -> None:
    emu = Emulator()
    with emu.virtual_time() as sleeps:
        rm.sleep(2)
        rm.pause(3)
        threading.Event().wait(4)
        anyio.run(anyio.sleep, 5)
    assert [(s.seconds, s.via) for s in sleeps] == [
        (2, "time.sleep"),
        (3, "time.sleep"),
        (4, "threading.Event.wait"),
        (5, "anyio.sleep"),
    ]
    assert emu.clock.elapsed == pytest.approx(14)


def test_everything_is_put_back_after_the_block() -> None:
    real = (time.sleep, time.monotonic, time.time, threading.Event.wait, threading.Condition.wait)
    emu = Emulator()
    with emu.virtual_time():
        assert rm.sleep is not real[0]
        assert time.sleep is not real[0]
        from time import sleep as bound_inside

        rm.bound_inside = bound_inside  # type: ignore[attr-defined]  # as a late import would
    after = (time.sleep, time.monotonic, time.time, threading.Event.wait, threading.Condition.wait)
    assert after == real
    assert rm.sleep is real[0]
    assert rm.pause is real[0]
    assert rm.bound_inside is real[0]  # type: ignore[attr-defined]
    assert rm.async_pause is __import__("asyncio").sleep


def test_virtual_deadlines_move_with_the_clock() -> None:
    emu = Emulator()
    with emu.virtual_time():
        before_mono, before_wall = time.monotonic(), time.time()
        rm.sleep(3600)
        assert time.monotonic() - before_mono >= 3600
        assert rm.t.time() - before_wall >= 3600


BLOCKED = [
    (rm.blocks_on_event_forever, "threading.Event().wait()"),
    (rm.swallows_everything_and_blocks, "lock.acquire()  # blocks again"),
    (rm.spins_without_polling, "while not flag"),
    (rm.awaits_forever, "create_future()"),
]


@pytest.mark.parametrize(("fn", "line"), BLOCKED, ids=lambda x: getattr(x, "__name__", "line"))
def test_a_blocked_client_is_stopped_and_located(fn: Any, line: str) -> None:
    found = play(fn, _LIFECYCLE, hang_after=0.3)
    assert found is not None
    assert found.prop == "terminates"
    where = f"tests/conformance/runtime_miniatures.py:{_line_of(fn, line)} in {fn.__name__}"
    assert found.message.startswith(
        f"the client was still running after 0.3 s of real time, at {where}: "
    )


def test_a_blocked_client_ends_the_search_at_once() -> None:
    seen: list[Progress] = []
    with pytest.raises(ClientCheckFailed) as failed:
        check_client(rm.blocks_on_event_forever, hang_after=0.2, progress=seen.append)
    assert failed.value.counterexample.prop == "terminates"
    assert len(seen) == 1  # not shrunk: every replay would block as long again
    assert "hang_after=0.2" in str(failed.value)


def test_a_client_that_exits_is_a_finding_with_its_line() -> None:
    found = play(rm.exits, _CANCELLED)
    assert found is not None
    where = f"runtime_miniatures.py:{_line_of(rm.exits, '        sys.exit(3)')} in exits"
    assert found.prop == "returns"
    assert found.message == f"the client raised SystemExit: 3 (at tests/conformance/{where})"


def test_advice_on_giving_up_is_never_an_illegal_action() -> None:
    found = play(rm.raises_while_cancelling, _CANCELLED)
    assert found is not None
    assert found.prop == "leaves_no_active_run"
    assert "leaving the run cancelling" in found.message
    assert "cancel the run" not in found.message
    assert "no cancel is legal while it is cancelling" in found.message


def test_a_target_with_the_wrong_signature_is_a_usage_error() -> None:
    with pytest.raises(CannotCheck, match=r"no_run_id\(client, thread_id\) cannot be called as"):
        check_client(rm.no_run_id)
    with pytest.raises(CannotCheck, match="is not callable"):
        check_client(42)  # type: ignore[arg-type]


def test_an_sdk_without_the_v2_assistants_api_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(openai, "__version__", "1.20.0")
    with pytest.raises(CannotCheck, match=r"openai 1\.20 is installed; .* 1\.21 and later"):
        check_client(rm.sleeps_imported_by_name)


def test_ctrl_c_keeps_what_was_found_so_far() -> None:
    calls = {"n": 0}

    def interrupted_on_the_sixth(client: Any, thread_id: str, run_id: str) -> Any:
        calls["n"] += 1
        if calls["n"] == 6:
            raise KeyboardInterrupt
        return client.beta.threads.runs.retrieve(thread_id=thread_id, run_id=run_id)

    with pytest.raises(CheckInterrupted) as stopped:
        check_client(interrupted_on_the_sixth, max_examples=50)
    assert stopped.value.summary.examples == 5
    assert stopped.value.found is not None  # returning an unsettled run is found at once
    assert stopped.value.found.counterexample.prop == "returns"


_FAILING_TEST = """
from conformance.harness import check_client

def returns_too_early(client, thread_id, run_id):
    return client.beta.threads.runs.retrieve(thread_id=thread_id, run_id=run_id)

def test_client():
    check_client(returns_too_early, max_examples=5)
"""


def test_a_failing_check_in_pytest_shows_the_users_test_not_the_kit(tmp_path: Path) -> None:
    (tmp_path / "test_user.py").write_text(_FAILING_TEST)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_user.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "check_client(returns_too_early, max_examples=5)" in done.stdout
    assert "the client returned the run in status queued" in done.stdout
    assert "def check_client" not in done.stdout
    assert "conformance/harness.py" not in done.stdout
