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

from conformance.emulator import Emulator
from conformance.harness import (
    CannotCheck,
    CheckInterrupted,
    ClientCheckFailed,
    Progress,
    check_client,
    play,
)
from tests.helpers import runtime_miniatures as rm

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


@pytest.mark.parametrize(
    "fn", [rm.sleeps_by_alias, rm.async_sleeps_imported_by_name], ids=lambda f: f.__name__
)
def test_a_search_of_a_correct_sleeper_passes(fn: Any) -> None:
    summary = check_client(fn, max_examples=10)
    assert summary.examples == 10


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
    (rm.blocks_on_a_socket, "mine.recv(1)"),
    (rm.spins_without_polling, "while not flag"),
    (rm.awaits_forever, "create_future()"),
]


@pytest.mark.parametrize(("fn", "line"), BLOCKED, ids=lambda x: getattr(x, "__name__", "line"))
def test_a_blocked_client_is_stopped_and_located(fn: Any, line: str) -> None:
    found = play(fn, _LIFECYCLE, hang_after=1.0)
    assert found is not None
    assert found.prop == "terminates"
    where = f"tests/helpers/runtime_miniatures.py:{_line_of(fn, line)} in {fn.__name__}"
    assert found.message.startswith(
        f"the client was still running after 1 s of real time, at {where}: "
    )


def test_a_client_that_swallows_the_stop_meets_it_again_at_its_next_sleep() -> None:
    found = play(rm.swallows_the_stop_around_its_poll, _LIFECYCLE)
    assert found is not None
    assert found.prop == "terminates"
    # stopped at the sleep right after the first swallowed stop (10 settled polls, then the
    # 11th), not after hours of virtual polling
    assert "fetched the run 11 times after it became completed" in found.message


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
    assert found.message == f"the client raised SystemExit: 3 (at tests/helpers/{where})"


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
    assert "conformance/harness/" not in done.stdout


# -- the command line ---------------------------------------------------------------------------

_CLIENTS = """
import sys
import threading
import time


def no_run_id(client, thread_id):
    return None


def exits(client, thread_id, run_id):
    sys.exit(3)


def blocks(client, thread_id, run_id):
    threading.Event().wait()


def good(client, thread_id, run_id):
    return client.beta.threads.runs.poll(run_id, thread_id=thread_id)


CALLS = []


def interrupted(client, thread_id, run_id):
    CALLS.append(1)
    if len(CALLS) == 4:
        raise KeyboardInterrupt
    return client.beta.threads.runs.poll(run_id, thread_id=thread_id)
"""


def _fuzz(tmp_path: Path, capsys: Any, *args: str) -> tuple[int, str, str]:
    from runmodel.cli import main

    path = tmp_path / "clients.py"
    if not path.exists():
        path.write_text(_CLIENTS)
    target, *rest = args
    code = main(["fuzz", f"{path}:{target}", *rest])
    out, err = capsys.readouterr()
    return code, out.replace(str(path), "clients.py"), err.replace(str(path), "clients.py")


def test_fuzz_calls_a_wrong_signature_a_usage_error(tmp_path: Path, capsys: Any) -> None:
    code, out, err = _fuzz(tmp_path, capsys, "no_run_id")
    assert (code, out) == (2, "")
    assert err == (
        "runmodel fuzz: clients.py:no_run_id: no_run_id(client, thread_id) cannot be called as "
        "no_run_id(client, thread_id, run_id), as the waiter contract calls it "
        "(too many positional arguments)\n"
    )


def test_fuzz_reports_a_client_exit_as_a_finding(tmp_path: Path, capsys: Any) -> None:
    code, out, err = _fuzz(tmp_path, capsys, "exits", "--max-examples", "5")
    assert code == 1
    assert err == ""  # piped: no progress line
    assert out.startswith("queued: the client raised SystemExit: 3 (at ")
    assert "clients.py:12 in exits)" in out


def test_fuzz_reports_a_blocked_client_with_the_options_to_replay_it(
    tmp_path: Path, capsys: Any
) -> None:
    code, out, _ = _fuzz(
        tmp_path, capsys, "blocks", "--hang-after", "0.2", "--future-status", "--contract", "driver"
    )
    assert code == 1
    assert "the client was still running after 0.2 s of real time, at " in out
    assert "clients.py:16 in blocks" in out
    assert (
        "reproduce: runmodel fuzz clients.py:blocks --contract driver --strictness strict "
        '--future-status --hang-after 0.2 --scenario "'
    ) in out


def test_fuzz_on_ctrl_c_prints_what_it_explored(tmp_path: Path, capsys: Any) -> None:
    code, out, err = _fuzz(tmp_path, capsys, "interrupted")
    assert code == 130
    assert err == "runmodel fuzz: interrupted after 3 lifecycles\n"
    assert out.startswith("interrupted: nothing failed so far\nevery property of the waiter")


def test_progress_is_shown_on_a_terminal_only() -> None:
    import io

    from conformance.cli.fuzz import ProgressLine
    from conformance.harness import Progress

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty, pipe = Tty(), io.StringIO()
    for stream in (tty, pipe):
        line = ProgressLine(stream)
        line(Progress(7, 0, "searching"))
        line.show("scenario 2 of 9: cancel", now=True)
        line.clear()
    assert pipe.getvalue() == ""
    assert tty.getvalue() == (
        "\rsearching: 7 lifecycles tried\rscenario 2 of 9: cancel      \r" + " " * 23 + "\r"
    )


def test_conform_on_ctrl_c_reports_the_scenarios_played(
    capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from conformance import conform
    from runmodel.cli import main

    def interrupted(ctx: Any) -> None:
        raise KeyboardInterrupt

    first, second = list(conform.SCENARIOS)[:2]
    monkeypatch.setitem(conform.SCENARIOS, second, ("interrupted here", interrupted))
    code = main(["conform", "--scenarios", f"{first},{second}"])
    out, err = capsys.readouterr()
    assert code == 130
    assert err == "runmodel conform: interrupted after 1 scenarios; the results so far:\n"
    assert out.startswith(f"PASS  {first:16}")
    assert "interrupted here" not in out


def test_a_spinning_client_is_stopped_off_the_main_thread_too() -> None:
    found: list[Any] = []
    worker = threading.Thread(
        target=lambda: found.append(play(rm.spins_without_polling, _LIFECYCLE, hang_after=1.0))
    )
    worker.start()
    worker.join(timeout=60)
    assert not worker.is_alive()
    assert found[0] is not None
    assert found[0].prop == "terminates"
    line = _line_of(rm.spins_without_polling, "while not flag")
    assert f"runtime_miniatures.py:{line} in spins_without_polling" in found[0].message
