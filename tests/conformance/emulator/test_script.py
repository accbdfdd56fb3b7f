"""Scripts: data, text form, and the model's veto when they are built."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conformance.emulator import Move, Script, ScriptError, default_script, parse_script
from conformance.emulator.script import FUNCTION_ROUND, MOVE_NAMES, PLAIN_REPLY
from runmodel import RUN, Actor, Strictness
from tests.helpers.emulator_strategies import scripts


def test_text_form_reads_into_moves() -> None:
    script = parse_script(
        "start+1, require_action(2)+3s, start, complete+1.5; on_cancel=finish_cancel+2"
    )
    assert script.moves == (
        Move("start", 1),
        Move("require_action", 3, 2),
        Move("start"),
        Move("complete", 1.5),
    )
    assert script.on_cancel == Move("finish_cancel", 2)
    assert script.rounds == 1
    assert script.statuses() == (
        "queued",
        "in_progress",
        "requires_action",
        "queued",
        "in_progress",
        "completed",
    )
    assert (
        str(script)
        == "start+1, require_action(2)+3, start, complete+1.5; on_cancel=finish_cancel+2"
    )


def test_arguments_take_defaults() -> None:
    assert Move("fail").arg == "server_error"
    assert Move("hit_token_limit").arg == "max_completion_tokens"
    assert Move("require_action").arg == 1
    assert parse_script("start, fail(invalid_prompt)").moves[1].arg == "invalid_prompt"


def test_moves_are_the_models_server_and_clock_triggers() -> None:
    expected = {e.trigger for e in RUN.all_edges if e.actor in (Actor.SERVER, Actor.CLOCK)}
    assert set(MOVE_NAMES) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("complete", "move 1 (complete): run: trigger 'complete' is not legal in status 'queued'"),
        (
            "start, require_action(1), complete",
            "move 3 (complete): run: trigger 'complete' is not legal in status 'queued'",
        ),
        ("start", "the script leaves the run 'in_progress' at its end"),
        (
            "start, require_action(1)",
            "leaves the run 'queued' after the client's submit at its end",
        ),
        (
            "start, complete, start",
            "move 3 (start): run: trigger 'start' is not legal in status 'completed'",
        ),
        (
            "start, complete; on_cancel=complete",
            "on_cancel (complete): run: trigger 'complete' is not legal",
        ),
        (
            "expire",
            "move 1 (expire): run: trigger 'expire' is not legal in status 'queued' "
            "at strictness strict",
        ),
    ],
)
def test_illegal_scripts_are_rejected_with_the_move(text: str, message: str) -> None:
    with pytest.raises(ScriptError) as info:
        parse_script(text)
    assert message in str(info.value)


def test_permissive_moves_need_the_permissive_level() -> None:
    text = "start, complete; on_cancel=complete+1"
    script = parse_script(text, strictness="permissive")
    assert script.on_cancel == Move("complete", 1)
    with pytest.raises(ScriptError):
        script.check(Strictness.STRICT)
    assert parse_script("expire", strictness="permissive").statuses() == ("queued", "expired")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "start, complet",
            "column 8: 'complet' is not a move; moves: start, complete, require_action(N)",
        ),
        ("start,, complete", "column 7: empty move"),
        ("start+x", "column 1: cannot read 'start+x' as a move"),
        ("start, fail(oops)", "column 8: fail: 'oops' is not one of server_error"),
        ("start, require_action(0)", "column 8: require_action needs a positive number of calls"),
        ("start, expire+3", "column 8: expire happens at the run's expires_at; give it no delay"),
        ("start, complete; later=1", "column 17: expected on_cancel=MOVE"),
        ("start(1), complete", "column 1: start takes no argument"),
    ],
)
def test_text_errors_name_the_column(text: str, message: str) -> None:
    with pytest.raises(ScriptError) as info:
        parse_script(text)
    assert message in str(info.value)


def test_bad_data_is_rejected() -> None:
    with pytest.raises(ScriptError, match="delay must not be negative"):
        Move("start", -1)
    with pytest.raises(ScriptError, match="finite"):
        Move("start", float("inf"))
    with pytest.raises(ScriptError, match="not a move"):
        Move("cancel")  # a client's trigger, not the server's


def test_default_script_follows_the_tools() -> None:
    function_tool = {"type": "function", "function": {"name": "f"}}
    assert default_script({}, {"tools": [function_tool]}) is FUNCTION_ROUND
    assert default_script({}, {"tools": [{"type": "code_interpreter"}]}) is PLAIN_REPLY
    assert PLAIN_REPLY.statuses()[-1] == "completed"
    assert FUNCTION_ROUND.rounds == 1


@given(scripts())
def test_text_form_round_trips(script: Script) -> None:
    again = parse_script(str(script), strictness=script.strictness)
    assert again == script


@given(scripts(), st.sampled_from(list(Strictness)))
def test_generated_scripts_follow_model_paths(script: Script, level: Strictness) -> None:
    statuses = script.statuses()
    assert statuses[-1] in RUN.terminal
    for a, b in itertools.pairwise(statuses):
        assert RUN.edge(a, b, script.strictness) is not None
    if level is Strictness.PERMISSIVE:
        script.check(level)  # anything legal at a level is legal at a looser one
