"""The harness catches each classic client bug with a minimal, readable counterexample, and passes
correct clients; the counterexample text is asserted exactly (ids normalised)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import find, settings

from conformance.harness import FUTURE_STATUS, ClientCheckFailed, Contract, check_client, play
from conformance.strategies import scenarios, scripts
from runmodel import RUN, Actor, Strictness
from tests.helpers import miniatures as m


def _norm(text: str) -> str:
    return re.sub(r"\b(call|run|thread|msg|asst|step)_[A-Za-z0-9]{6,}", r"\1_…", text)


# (client, contract, property that must catch it, minimal scenario, the exact report)
BUGS = [
    pytest.param(
        m.lesson_poll_run_status,
        "waiter",
        "terminates",
        "start+1, fail(server_error)+1",
        """\
queued → in_progress → failed: the client fetched the run 11 times after it became failed (terminal) and never returned

  contract:  waiter (property: terminates)
  scenario:  start+1, fail(server_error)+1
  the client did (virtual seconds since the run was created):
        0.05s  GET /threads/{thread}/runs/{run} → 200 queued, sleeping 10 s
       10.10s  GET /threads/{thread}/runs/{run} → 200 failed  ×11 (until 110.60s), sleeping 10 s
""",
        id="lesson_poll_run_status",
    ),
    pytest.param(
        m.returns_on_cancelling,
        "waiter",
        "returns",
        "start+1, complete+1; on_cancel=finish_cancel+2; cancel_at=1",
        """\
queued → in_progress → cancelling: the client returned the run in status cancelling, which is not settled (terminal or requires_action)

  contract:  waiter (property: returns)
  scenario:  start+1, complete+1; on_cancel=finish_cancel+2; cancel_at=1
  the client did (virtual seconds since the run was created):
        0.05s  GET /threads/{thread}/runs/{run} → 200 queued, sleeping 1 s
        1.10s  GET /threads/{thread}/runs/{run} → 200 in_progress, sleeping 1 s
        2.20s  GET /threads/{thread}/runs/{run} → 200 cancelling
""",
        id="returns_on_cancelling",
    ),
    pytest.param(
        m.misspelled_statuses,
        "waiter",
        "terminates",
        "start+1, hit_token_limit(max_completion_tokens)+1",
        """\
queued → in_progress → incomplete: the client fetched the run 11 times after it became incomplete (terminal) and never returned

  contract:  waiter (property: terminates)
  scenario:  start+1, hit_token_limit(max_completion_tokens)+1
  the client did (virtual seconds since the run was created):
        0.05s  GET /threads/{thread}/runs/{run} → 200 queued, sleeping 1 s
        1.10s  GET /threads/{thread}/runs/{run} → 200 in_progress, sleeping 1 s
        2.15s  GET /threads/{thread}/runs/{run} → 200 incomplete  ×11 (until 12.65s), sleeping 1 s
""",
        id="misspelled_statuses",
    ),
    pytest.param(
        m.hot_loop,
        "waiter",
        "sleeps_between_polls",
        "start+1, complete+1",
        """\
queued: the client polled the run again without sleeping; the server asked for 1 s (openai-poll-after-ms)

  contract:  waiter (property: sleeps_between_polls)
  scenario:  start+1, complete+1
  the client did (virtual seconds since the run was created):
        0.05s  GET /threads/{thread}/runs/{run} → 200 queued  ×2 (until 0.10s)
""",
        id="hot_loop",
    ),
    pytest.param(
        m.ignores_poll_after,
        "waiter",
        "sleeps_between_polls",
        "start+1, complete+1",
        """\
queued: the client polled the run again after sleeping only 0.01 s; the server asked for 1 s (openai-poll-after-ms)

  contract:  waiter (property: sleeps_between_polls)
  scenario:  start+1, complete+1
  the client did (virtual seconds since the run was created):
        0.05s  GET /threads/{thread}/runs/{run} → 200 queued  ×2 (until 0.11s), sleeping 0.01 s
""",
        id="ignores_poll_after",
    ),
    pytest.param(
        m.answers_first_call_only,
        "driver",
        "legal_actions",
        "start+1, require_action(2)+1, start+1, complete+1",
        """\
queued → in_progress → requires_action: the client sent tool outputs for ['call_…']; run {run} requires ['call_…', 'call_…'] (exactly ['call_…', 'call_…'], in one request)

  contract:  driver (property: legal_actions)
  scenario:  start+1, require_action(2)+1, start+1, complete+1
  the client did (virtual seconds since the run was created):
        0.05s  GET /threads/{thread}/runs/{run} → 200 queued, sleeping 1 s
        1.10s  GET /threads/{thread}/runs/{run} → 200 in_progress, sleeping 1 s
        2.15s  GET /threads/{thread}/runs/{run} → 200 requires_action
        2.20s  POST /threads/{thread}/runs/{run}/submit_tool_outputs → 400
""",
        id="answers_first_call_only",
    ),
    pytest.param(
        m.answers_first_round_only,
        "driver",
        "returns",
        "start+1, require_action(1)+1, start+1, require_action(1)+1, start+1, complete+1",
        """\
queued → in_progress → requires_action → queued → in_progress → requires_action: the client returned the run in status requires_action, which is not terminal

  contract:  driver (property: returns)
  scenario:  start+1, require_action(1)+1, start+1, require_action(1)+1, start+1, complete+1
  the client did (virtual seconds since the run was created):
        0.05s  GET /threads/{thread}/runs/{run} → 200 queued, sleeping 1 s
        1.10s  GET /threads/{thread}/runs/{run} → 200 in_progress, sleeping 1 s
        2.15s  GET /threads/{thread}/runs/{run} → 200 requires_action
        2.20s  POST /threads/{thread}/runs/{run}/submit_tool_outputs → 200 queued
        2.25s  GET /threads/{thread}/runs/{run} → 200 queued, sleeping 1 s
        3.30s  GET /threads/{thread}/runs/{run} → 200 in_progress, sleeping 1 s
        4.35s  GET /threads/{thread}/runs/{run} → 200 requires_action
""",
        id="answers_first_round_only",
    ),
    pytest.param(
        m.one_request_per_call,
        "driver",
        "legal_actions",
        "start+1, require_action(2)+1, start+1, complete+1",
        """\
queued → in_progress → requires_action: the client sent tool outputs for ['call_…']; run {run} requires ['call_…', 'call_…'] (exactly ['call_…', 'call_…'], in one request)

  contract:  driver (property: legal_actions)
  scenario:  start+1, require_action(2)+1, start+1, complete+1
  the client did (virtual seconds since the run was created):
        0.05s  GET /threads/{thread}/runs/{run} → 200 queued, sleeping 1 s
        1.10s  GET /threads/{thread}/runs/{run} → 200 in_progress, sleeping 1 s
        2.15s  GET /threads/{thread}/runs/{run} → 200 requires_action
        2.20s  POST /threads/{thread}/runs/{run}/submit_tool_outputs → 400
""",
        id="one_request_per_call",
    ),
    pytest.param(
        m.times_out_without_cancel,
        "driver",
        "leaves_no_active_run",
        "start+1, complete+30",
        """\
queued → in_progress: the client raised TimeoutError: run run_… took longer than 30s (at tests/helpers/miniatures.py:133 in times_out_without_cancel), leaving the run in_progress: the thread stays locked until the run expires (cancel the run before giving up)

  contract:  driver (property: leaves_no_active_run)
  scenario:  start+1, complete+30
  the client did (virtual seconds since the run was created):
        0.05s  GET /threads/{thread}/runs/{run} → 200 queued, sleeping 1 s
        1.10s  GET /threads/{thread}/runs/{run} → 200 in_progress  ×29 (until 30.50s), sleeping 1 s
""",
        id="times_out_without_cancel",
    ),
    pytest.param(
        m.submits_after_expiry,
        "driver",
        "returns",
        "start+1, require_action(1)+1, start+1, complete+1",
        """\
queued → in_progress → requires_action → expired: the client raised BadRequestError (400): Runs in status "expired" do not accept tool outputs. (at tests/helpers/miniatures.py:165 in submits_after_expiry)

  contract:  driver (property: returns)
  scenario:  start+1, require_action(1)+1, start+1, complete+1
  the client did (virtual seconds since the run was created):
        0.05s  GET /threads/{thread}/runs/{run} → 200 queued, sleeping 1 s
        1.10s  GET /threads/{thread}/runs/{run} → 200 in_progress, sleeping 1 s
        2.15s  GET /threads/{thread}/runs/{run} → 200 requires_action, sleeping 700 s
      702.20s  POST /threads/{thread}/runs/{run}/submit_tool_outputs → 400
""",
        id="submits_after_expiry",
    ),
]


@pytest.mark.parametrize(("fn", "contract", "prop", "scenario", "expected"), BUGS)
def test_each_bug_gives_this_exact_report(
    fn: Any, contract: str, prop: str, scenario: str, expected: str
) -> None:
    found = play(fn, scenario, contract)
    assert found is not None
    assert found.prop == prop
    assert _norm(found.render()) + "\n" == expected


_SLOW_SEARCHES = {
    "returns_on_cancelling",
    "one_request_per_call",
    "answers_first_call_only",
    "answers_first_round_only",
    "misspelled_statuses",
    "times_out_without_cancel",
    "submits_after_expiry",
}
SEARCHES = [
    pytest.param(*p.values, id=p.id, marks=[pytest.mark.slow] if p.id in _SLOW_SEARCHES else [])
    for p in BUGS
]


@pytest.mark.parametrize(("fn", "contract", "prop", "scenario", "expected"), SEARCHES)
def test_search_finds_each_bug_by_the_right_property(
    fn: Any, contract: str, prop: str, scenario: str, expected: str
) -> None:
    with pytest.raises(ClientCheckFailed) as info:
        check_client(fn, contract, max_examples=25)
    found = info.value.counterexample
    assert found.prop == prop
    assert len(found.scenario.script.moves) <= len(scenario.split(";")[0].split(","))
    assert "reproduce: check_client(" in str(info.value)
    assert found.path[0] == RUN.initial


@pytest.mark.parametrize(
    ("fn", "contract"),
    [(m.sdk_poll, "waiter"), (m.careful_driver, "driver")],
    ids=["sdk-poll", "careful"],
)
def test_correct_clients_pass(fn: Any, contract: str) -> None:
    summary = check_client(fn, contract, max_examples=40)
    assert summary.examples >= 40
    assert {"queued", "in_progress", "completed"} <= set(summary.statuses)
    assert "every property of the" in summary.render()


def _cancels_when_done(client: Any, thread_id: str, run_id: str) -> Any:
    """Cancels the run once it has ended (the server refuses; the client shrugs that off)."""
    run = client.beta.threads.runs.poll(run_id, thread_id=thread_id)
    with contextlib.suppress(Exception):
        client.beta.threads.runs.cancel(run_id, thread_id=thread_id)
    return run


def _cancels_at_once(client: Any, thread_id: str, run_id: str) -> Any:
    """Cancels the run it was given before looking at it, then waits for it to end."""
    client.beta.threads.runs.cancel(run_id, thread_id=thread_id)
    return client.beta.threads.runs.poll(run_id, thread_id=thread_id)


def test_a_cancel_is_judged_as_the_checker_judges_it() -> None:
    found = play(_cancels_when_done, "start+1, complete+1", "driver")
    assert found is not None
    assert found.prop == "legal_actions"
    assert found.message == (
        "the client sent cancel on run {run} in status 'completed' "
        "(cancel only in in_progress at strict)"
    )
    # a run last seen queued (here: never seen) may have started unseen, so the checker calls
    # the cancel legal; the strict server refuses it all the same, and the client raises
    at_once = play(_cancels_at_once, "start+1, complete+1; on_cancel=finish_cancel+1", "driver")
    assert at_once is not None
    assert at_once.prop == "returns"
    assert "Cannot cancel run with status 'queued'" in at_once.message


def test_the_lesson_client_runs_at_full_speed_on_virtual_time() -> None:
    """It sleeps 10 s between polls; 110 virtual seconds pass, and no real waiting happens."""
    found = play(m.lesson_poll_run_status, "start+1, fail(server_error)+1", "waiter")
    assert found is not None
    assert found.actions[-1].at > 100  # virtual seconds, asserted on the virtual clock only
    assert {a.seconds for a in found.actions if a.what == "sleep"} == {10}


async def _async_lesson(client: Any, thread_id: str, run_id: str) -> Any:
    while True:
        run = await client.beta.threads.runs.retrieve(run_id, thread_id=thread_id)
        if run.status in ("requires_action", "completed"):
            return run
        await asyncio.sleep(5)


async def _async_sdk_poll(client: Any, thread_id: str, run_id: str) -> Any:
    return await client.beta.threads.runs.poll(run_id, thread_id=thread_id)


def test_async_clients_are_played_too() -> None:
    found = play(_async_lesson, "start+1, fail(server_error)+1", "waiter")
    assert found is not None
    assert found.prop == "terminates"
    assert (
        play(_async_sdk_poll, "start+1, require_action(2)+1, start+1, complete+1", "waiter") is None
    )
    check_client(_async_sdk_poll, "waiter", max_examples=15)


def test_a_client_that_swallows_every_exception_is_still_stopped() -> None:
    def stubborn(client: Any, thread_id: str, run_id: str) -> Any:
        while True:
            try:
                run = client.beta.threads.runs.retrieve(run_id, thread_id=thread_id)
                if run.status == "completed":
                    return run
                time.sleep(1)
            except Exception:
                time.sleep(1)

    found = play(stubborn, "start+1, fail(server_error)+1", "waiter")
    assert found is not None
    assert found.prop == "terminates"


def _rejects_unknown_statuses(client: Any, thread_id: str, run_id: str) -> Any:
    while True:
        run = client.beta.threads.runs.retrieve(run_id, thread_id=thread_id)
        if run.status in (
            "requires_action",
            "completed",
            "failed",
            "cancelled",
            "expired",
            "incomplete",
        ):
            return run
        if run.status not in ("queued", "in_progress", "cancelling"):
            raise ValueError(f"unexpected status {run.status}")
        time.sleep(1)


def test_forward_compatibility_is_opt_in_and_caught() -> None:
    scenario = "start+1, complete+5"
    assert play(_rejects_unknown_statuses, scenario, "waiter") is None
    found = play(_rejects_unknown_statuses, scenario, "waiter", future_status=True)
    assert found is not None
    assert found.prop == "forward_compatible"
    assert f"after the run reported status {FUTURE_STATUS!r}" in found.message
    assert found.actions[-1].seen == FUTURE_STATUS
    assert play(m.sdk_poll, scenario, "waiter", future_status=True) is None
    driver = "start+1, require_action(2)+3, start+1, complete+5"
    assert play(m.careful_driver, driver, "driver", future_status=True) is None


def test_contracts_name_where_a_client_should_stop() -> None:
    assert Contract.WAITER.done == RUN.settled
    assert Contract.DRIVER.done == RUN.terminal


# -- strategies -----------------------------------------------------------------------------


@pytest.mark.parametrize("level", list(Strictness), ids=lambda lv: lv.value)
def test_scripts_shrink_to_the_plainest_lifecycle(level: Strictness) -> None:
    plain = find(scripts(level), lambda s: True, settings=settings(database=None))
    assert len(plain.moves) <= 2
    assert plain.rounds == 0


@pytest.mark.parametrize("level", list(Strictness), ids=lambda lv: lv.value)
def test_scripts_reach_every_server_and_clock_edge(level: Strictness) -> None:
    """Every edge the server or the clock can take at this level appears in some drawn script.

    Edges out of requires_action are the client's answer or its race with the clock: a script
    reaches the race by asking for outputs moments before the run expires (tested below).
    """
    waiting = RUN.waiting
    for edge in RUN.edges(level):
        if edge.actor is Actor.CLIENT or edge.source in waiting:
            continue

        def takes(script: Any, edge: Any = edge) -> bool:
            statuses = script.statuses()
            moves = set(itertools.pairwise(statuses))
            after_cancel = RUN.fire("cancelling", script.on_cancel.trigger, level)
            return (edge.source, edge.dest) in moves | {(after_cancel.source, after_cancel.dest)}

        find(scripts(level), takes, settings=settings(database=None, max_examples=2000))


def test_scripts_ask_for_outputs_just_before_the_run_expires() -> None:
    def late(script: Any) -> bool:
        first = next(
            (i for i, mv in enumerate(script.moves) if mv.trigger == "require_action"), None
        )
        return first is not None and sum(mv.delay for mv in script.moves[: first + 1]) >= 599

    find(scripts(), late, settings=settings(database=None))


def test_scenarios_include_another_party_cancelling() -> None:
    found = find(scenarios(), lambda sc: sc.cancel_at is not None, settings=settings(database=None))
    assert found.cancel_at == 0


# -- the command line -----------------------------------------------------------------------

LESSON = """\
import time

def poll_run_status(client, thread_id, run_id, interval=10):
    while True:
        run = client.beta.threads.runs.retrieve(thread_id=thread_id, run_id=run_id)
        print(f"Run的轮询信息:\\n{run}\\n")
        if run.status in ['requires_action', 'completed']:
            return run
        time.sleep(interval)

def sdk_poll(client, thread_id, run_id):
    return client.beta.threads.runs.poll(run_id, thread_id=thread_id)
"""


def _main(args: list[str]) -> int:
    from runmodel.cli import main

    return main(args)


def test_fuzz_prints_the_counterexample_and_exits_1(tmp_path: Path, capsys: Any) -> None:
    client = tmp_path / "lesson.py"
    client.write_text(LESSON, encoding="utf-8")
    scenario = "start+1, fail(server_error)+1"
    code = _main(["fuzz", f"{client}:poll_run_status", "--scenario", scenario])
    out = capsys.readouterr().out
    assert code == 1
    assert out.startswith("queued → in_progress → failed: the client fetched the run 11 times")
    assert "Run的轮询信息" not in out  # the client's own prints are kept out of the report
    assert f"reproduce: runmodel fuzz {client}:poll_run_status --contract waiter" in out


def test_fuzz_summarises_what_it_explored_on_success(tmp_path: Path, capsys: Any) -> None:
    client = tmp_path / "lesson.py"
    client.write_text(LESSON, encoding="utf-8")
    code = _main(["fuzz", f"{client}:sdk_poll", "--max-examples", "10", "--format", "json"])
    out = capsys.readouterr().out
    assert code == 0
    assert '"result": "passed"' in out
    assert '"examples": 10' in out


@pytest.mark.parametrize(
    ("target", "content", "message"),
    [
        ("missing.py:f", None, "no such file"),
        ("client.py", "", "expected FILE.py:FUNCTION"),
        (
            "client.py:nope",
            "def poll(c, t, r):\n    return None\n",
            "no function 'nope'; functions there: poll",
        ),
        ("client.py:f", "def f(:\n", "client.py:1: syntax error"),
        ("client.py:f", "raise RuntimeError('boom')\n", "importing it raised RuntimeError: boom"),
    ],
)
def test_fuzz_says_what_is_wrong_with_its_arguments(
    tmp_path: Path, capsys: Any, target: str, content: str | None, message: str
) -> None:
    if content is not None:
        (tmp_path / "client.py").write_text(content, encoding="utf-8")
    code = _main(["fuzz", str(tmp_path / target)])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert "Traceback" not in err


def test_fuzz_rejects_a_scenario_the_model_forbids(tmp_path: Path, capsys: Any) -> None:
    client = tmp_path / "lesson.py"
    client.write_text(LESSON, encoding="utf-8")
    code = _main(["fuzz", f"{client}:sdk_poll", "--scenario", "complete+1"])
    assert code == 2
    assert "--scenario" in capsys.readouterr().err
