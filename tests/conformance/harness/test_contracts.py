"""The app contract, the contract options, every failing property, and the client's own tools:
each verdict proven on a miniature that is wrong on purpose, and on one that is right."""

from __future__ import annotations

import json
import shlex
import time
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import find, given, settings

from conformance.harness import (
    DEFAULT_ASSISTANT,
    ClientCheckFailed,
    check_client,
    play_all,
)
from conformance.strategies import AppScenario
from conformance.tools import WORDS, ToolsError, arguments, load_tools, plainest
from tests.helpers import contract_miniatures as c
from tests.helpers import miniatures as m

ONE_ROUND = "start+1, require_action(2)+1, start+1, complete+1"
TWO_ROUNDS = "start+1, require_action(2)+1, start+1, require_action(1)+1, start+1, complete+1"
SLOW = "start+1, complete+100"


def _props(fn: Any, scenario: str, contract: str, **options: Any) -> list[str]:
    return [f.prop for f in play_all(fn, scenario, contract, **options)]


# -- the app contract ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fn", "scenario", "props"),
    [
        (c.app_create_and_poll, TWO_ROUNDS, []),
        (c.app_async, TWO_ROUNDS, []),
        (c.app_streams, TWO_ROUNDS, []),
        (c.app_first_round_only, TWO_ROUNDS, ["answers_every_round"]),
        (c.app_async_no_tools, ONE_ROUND, ["answers_every_round"]),
        (c.app_streams_once, ONE_ROUND, ["answers_every_round"]),
        (c.app_retries, f"{SLOW} | start+1, fail(server_error)+1 | start+1, complete+1", []),
        (c.app_retries_at_once, SLOW, ["legal_actions"]),
        (c.app_abandons, SLOW, ["leaves_no_active_run"]),
        (c.deletes_its_own_thread, ONE_ROUND, []),
        (c.deletes_the_assistant, ONE_ROUND, ["owns_what_it_deletes"]),
    ],
    ids=lambda v: getattr(v, "__name__", None) or "",
)
def test_apps_that_create_their_own_runs(fn: Any, scenario: str, props: list[str]) -> None:
    assert _props(fn, scenario, "app") == props


def test_every_run_an_app_creates_is_judged_and_named() -> None:
    (retried,) = play_all(c.app_retries_at_once, SLOW, "app")
    assert retried.message == (
        "the client created a new run on the thread while the run {run1} was still cancelling "
        "(a new run must wait until the last one is cancelled or has ended)"
    )
    (abandoned,) = play_all(c.app_abandons, SLOW, "app")
    assert "leaving the run {run1} in_progress" in abandoned.message
    assert isinstance(abandoned.scenario, AppScenario)
    assert len(abandoned.scenario.runs) == 2  # the retry's run is part of the lifecycle
    (deleted,) = play_all(c.deletes_the_assistant, ONE_ROUND, "app")
    assert "deleted the assistant {assistant}, which it did not create" in deleted.message
    assert any(a.what == "DELETE /assistants/{assistant}" for a in deleted.actions)


def test_an_unanswered_round_is_never_advised_an_illegal_cancel() -> None:
    (found,) = play_all(c.app_first_round_only, TWO_ROUNDS, "app")
    assert "no cancel is legal while the run is requires_action" in found.message


def test_an_app_search_finds_the_unanswered_round_in_a_run_it_created() -> None:
    with pytest.raises(ClientCheckFailed) as info:
        check_client(c.app_streams_once, "app", max_examples=30)
    found = info.value.counterexample
    assert found.prop == "answers_every_round"
    assert isinstance(found.scenario, AppScenario)
    assert "reproduce: check_client(app_streams_once, 'app'" in str(info.value)


def test_an_app_that_creates_no_run_is_told_so() -> None:
    def forgets(client: Any, thread_id: str, assistant_id: str) -> str:
        return "nothing to do"

    assert [f.message for f in play_all(forgets, ONE_ROUND, "app")] == [
        "the client returned without creating a run"
    ]


# -- contract options ------------------------------------------------------------------------

CANCELLED_SLOWLY = "start+1, complete+10; on_cancel=finish_cancel+5; cancel_at=2"


def test_a_library_may_raise_on_failure_by_design_and_its_real_bug_is_still_found() -> None:
    failed = "start+1, fail(server_error)+1"
    assert _props(c.raises_on_failure, failed, "driver") == ["returns"]
    assert _props(c.raises_on_failure, failed, "driver", raises_on_failure=True) == []
    found = play_all(c.raises_on_failure, CANCELLED_SLOWLY, "driver", raises_on_failure=True)
    assert [f.message for f in found] == [
        "the client returned the run in status cancelling, which is not terminal"
    ]
    for scenario in (failed, CANCELLED_SLOWLY):
        assert _props(c.raises_on_failure_fixed, scenario, "driver", raises_on_failure=True) == []
    # a raise while the run is still going is not what the option allows
    assert _props(m.times_out_without_cancel, SLOW, "driver", raises_on_failure=True) == [
        "leaves_no_active_run"
    ]


@pytest.mark.slow
def test_a_search_under_raises_on_failure_reports_only_the_cancelling_bug() -> None:
    with pytest.raises(ClientCheckFailed) as info:
        check_client(c.raises_on_failure, "driver", raises_on_failure=True, max_examples=60)
    assert [f.prop for f in info.value.counterexamples] == ["returns"]
    assert "cancelling" in info.value.counterexample.message
    assert "raises_on_failure=True" in str(info.value)


def test_without_another_party_no_cancel_is_drawn() -> None:
    def cancel_seen(client: Any, thread_id: str, run_id: str) -> Any:
        while True:
            run = client.beta.threads.runs.retrieve(run_id, thread_id=thread_id)
            if run.status in ("cancelling", "cancelled"):
                raise AssertionError("cancelled by someone else")
            if run.status not in ("queued", "in_progress"):
                return run
            time.sleep(5)

    with pytest.raises(ClientCheckFailed, match="cancelled by someone else"):
        check_client(cancel_seen, "waiter", max_examples=10)
    check_client(cancel_seen, "waiter", max_examples=10, cancel=False)


def test_the_poll_interval_a_client_is_given_is_its_pace_and_no_request_count_stops_it() -> None:
    long = "start+1, complete+300"  # 3,000 polls at 0.1 s
    assert _props(c.polls_every_tenth, long, "waiter") == ["sleeps_between_polls"]
    assert _props(c.polls_every_tenth, long, "waiter", poll_interval=0.1) == []
    (found,) = play_all(m.hot_loop, long, "waiter", poll_interval=0.1)
    assert "the interval it was given asked for 0.1 s (poll_interval)" in found.message


def test_the_assistant_a_client_is_given_is_configurable() -> None:
    weather_bot = {"name": "Weather bot", "model": "gpt-4o", "tools": c.WEATHER_TOOLS}
    (found,) = play_all(c.checks_the_assistant_name, ONE_ROUND, "app")
    assert "ValueError: not the Weather bot assistant" in found.message
    assert _props(c.checks_the_assistant_name, ONE_ROUND, "app", assistant=weather_bot) == []


def test_deleting_the_thread_a_client_was_given_is_reported() -> None:
    (found,) = play_all(c.deletes_the_thread, "start+1, complete+1", "waiter")
    assert found.prop == "owns_what_it_deletes"
    assert found.message.startswith("the client deleted the thread {thread}, which it did not")


# -- every failing property --------------------------------------------------------------------


def test_a_pacing_finding_does_not_hide_a_correctness_bug() -> None:
    with pytest.raises(ClientCheckFailed) as info:
        check_client(c.fast_and_partial, "driver", max_examples=30)
    failed = info.value
    assert [f.prop for f in failed.counterexamples] == ["legal_actions", "sleeps_between_polls"]
    partial, pacing = failed.counterexamples
    assert "; run {run} requires" in partial.message
    assert partial.scenario.script.rounds == 1  # type: ignore[union-attr]
    assert pacing.scenario.script.rounds == 0  # type: ignore[union-attr]  # each shrunk alone
    text = str(failed)
    assert text.startswith("2 properties failed (legal_actions, sleeps_between_polls)")
    assert text.count("reproduce: check_client(fast_and_partial") == 2


def test_a_correct_client_is_searched_once() -> None:
    summary = check_client(m.careful_driver, "driver", max_examples=15)
    assert summary.examples == 15


# -- the client's own tools ----------------------------------------------------------------------

SCHEMAS = [
    DEFAULT_ASSISTANT["tools"][0]["function"]["parameters"],
    c.WEATHER_TOOLS[0]["function"]["parameters"],
    {"type": "object", "properties": {"n": {"type": "number", "exclusiveMinimum": 0}}},
    {"anyOf": [{"type": "string", "maxLength": 3}, {"type": "null"}]},
    {"type": "array", "items": {"type": "boolean"}, "minItems": 2},
]


@pytest.mark.parametrize("schema", SCHEMAS, ids=range(len(SCHEMAS)))
def test_tool_arguments_follow_their_json_schema(schema: Any) -> None:
    @settings(max_examples=60, database=None)
    @given(arguments(schema))
    def valid(value: Any) -> None:
        jsonschema.validate(value, schema)

    valid()
    jsonschema.validate(plainest(schema), schema)
    if "anyOf" not in schema:
        plain = find(arguments(schema), lambda _: True, settings=settings(database=None))
        assert plain == plainest(schema)


def test_tool_texts_are_english_words() -> None:
    city = find(
        arguments(c.WEATHER_TOOLS[0]["function"]["parameters"]),
        lambda v: len(v["city"].split()) > 1,
        settings=settings(database=None),
    )["city"]
    assert set(city.split()) <= set(WORDS)


def test_a_client_that_dispatches_on_its_own_tool_names() -> None:
    (found,) = play_all(c.own_tools_app, ONE_ROUND, "app")
    assert "KeyError: 'calculate_order_total'" in found.message
    check_client(c.own_tools_app, "app", tools=c.WEATHER_TOOLS, max_examples=10)


_celsius_only = c.celsius_only


def test_the_calls_of_a_scenario_are_played_as_given() -> None:
    calls = '[["get_time",{"zone":"Paris"}],["get_weather",{"city":"London","unit":"fahrenheit"}]]'
    given = f"{ONE_ROUND}; calls={calls}"
    (found,) = play_all(_celsius_only, given, "app", tools=c.WEATHER_TOOLS)
    assert "fahrenheit is not supported" in found.message
    assert str(found.scenario) == given
    assert play_all(_celsius_only, ONE_ROUND, "app", tools=c.WEATHER_TOOLS) == []


@pytest.mark.slow
def test_drawn_arguments_are_in_the_counterexample_and_replay() -> None:
    with pytest.raises(ClientCheckFailed) as info:
        check_client(_celsius_only, "app", tools=c.WEATHER_TOOLS, max_examples=40)
    found = info.value.counterexample
    assert found.prop == "returns"
    assert '"unit":"fahrenheit"' in str(found.scenario)
    again = play_all(_celsius_only, str(found.scenario), "app", tools=c.WEATHER_TOOLS)
    assert [f.message for f in again] == [found.message]


def test_tools_files(tmp_path: Path) -> None:
    listed = tmp_path / "tools.json"
    listed.write_text(json.dumps([c.WEATHER_TOOLS[0]["function"]]), encoding="utf-8")
    assert load_tools(listed) == [c.WEATHER_TOOLS[0]]
    body = tmp_path / "assistant.json"
    body.write_text(json.dumps({"model": "gpt-4o", "tools": c.WEATHER_TOOLS}), encoding="utf-8")
    assert load_tools(body) == c.WEATHER_TOOLS
    (tmp_path / "bad.json").write_text("[1]", encoding="utf-8")
    with pytest.raises(ToolsError, match="tool 1 is not a tool"):
        load_tools(tmp_path / "bad.json")


# -- the command line ----------------------------------------------------------------------------

AGENT = """\
import json


class Agent:
    def __init__(self, client, assistant_id):
        self.client = client
        self.assistant_id = assistant_id

    def ask(self, thread_id, assistant_id):
        runs = self.client.beta.threads.runs
        run = runs.create_and_poll(thread_id=thread_id, assistant_id=self.assistant_id)
        while run.status == "requires_action":
            calls = run.required_action.submit_tool_outputs.tool_calls
            outputs = [{"tool_call_id": c.id, "output": "42"} for c in calls]
            run = runs.submit_tool_outputs_and_poll(
                run_id=run.id, thread_id=thread_id, tool_outputs=outputs
            )
        return run.status

    def ask_once(self):
        with self.client.beta.threads.runs.stream(
            thread_id=self.thread_id, assistant_id=self.assistant_id
        ) as stream:
            stream.until_done()
        return "done"


def make_agent(client, thread_id, assistant_id):
    agent = Agent(client, assistant_id)
    agent.thread_id = thread_id
    return agent


def not_an_agent(client):
    return object()
"""


def _main(args: list[str]) -> int:
    from runmodel.cli import main

    return main(args)


@pytest.fixture
def agent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "__init__.py").write_text("", encoding="utf-8")
    (tmp_path / "shop" / "agent.py").write_text(AGENT, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path / "shop" / "agent.py"


def test_fuzz_a_method_built_by_a_setup_hook(agent: Path, capsys: Any) -> None:
    code = _main(
        [
            "fuzz",
            f"{agent}:Agent.ask",
            "--setup",
            f"{agent}:make_agent",
            "--contract",
            "app",
            "--max-examples",
            "5",
        ]
    )
    assert (code, capsys.readouterr().out.split("\n")[0]) == (
        0,
        "every property of the app contract held in 5 lifecycles (strict)",
    )


def test_fuzz_a_method_in_a_package_and_reproduce_every_option(agent: Path, capsys: Any) -> None:
    code = _main(
        [
            "fuzz",
            "shop.agent:Agent.ask_once",
            "--setup",
            "shop.agent:make_agent",
            "--contract",
            "app",
            "--raises-on-failure",
            "--no-cancel",
            "--poll-interval",
            "2",
            "--scenario",
            ONE_ROUND,
            "--format",
            "json",
        ]
    )
    assert code == 1
    report = json.loads(capsys.readouterr().out)
    assert report["property"] == "answers_every_round"
    assert [f["property"] for f in report["counterexamples"]] == ["answers_every_round"]
    code = _main(["fuzz", "shop.agent:Agent.ask_once", "--setup", "shop.agent:make_agent",
                  "--contract", "app", "--raises-on-failure", "--no-cancel", "--poll-interval",
                  "2", "--scenario", ONE_ROUND])  # fmt: skip
    out = capsys.readouterr().out
    assert (
        "reproduce: runmodel fuzz shop.agent:Agent.ask_once --contract app --strictness strict "
        "--setup shop.agent:make_agent --raises-on-failure --no-cancel --poll-interval 2"
    ) in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["shop.agent:Agent.ask"], "Agent.ask is a method; give --setup HOOK"),
        (["shop.agent:Agent.ask", "--setup", "shop.agent:not_an_agent"], "not Agent"),
        (["shop.agent:Agent.nope"], "Agent has no attribute 'nope'"),
        (["shop.nowhere:f"], "no module named 'shop.nowhere'"),
        (["shop.agent:Agent.ask", "--setup", "shop.agent:Agent"], "--setup"),
        (["shop.agent:make_agent", "--tools", "missing.json"], "--tools"),
    ],
)
def test_fuzz_says_what_is_wrong_with_a_target(
    agent: Path, capsys: Any, args: list[str], message: str
) -> None:
    code = _main(["fuzz", *args, "--contract", "app"])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert "Traceback" not in err


def test_the_emulator_names_a_rounds_calls_through_its_hook() -> None:
    from conformance.emulator import Emulator

    emu = Emulator()
    emu.tool_calls = lambda run, n: [("get_time", '{"zone":"UTC"}')] * n
    thread_id, run_id = emu.start_run("start+1, require_action(2)+1, start+1, complete+1")
    emu.clock.advance(3)
    calls = emu.run_object(run_id)["required_action"]["submit_tool_outputs"]["tool_calls"]
    assert [(c["function"]["name"], c["function"]["arguments"]) for c in calls] == [
        ("get_time", '{"zone":"UTC"}')
    ] * 2
    assert len({c["id"] for c in calls}) == 2
    thread_id, assistant_id = emu.start_thread(assistant={"model": "m", "name": "Weather bot"})
    assert emu.store.assistants[assistant_id]["name"] == "Weather bot"
    assert emu.messages(thread_id) == []


def test_fuzz_takes_the_assistant_and_tools_from_files(agent: Path, capsys: Any) -> None:
    app = agent.parent / "weather.py"
    app.write_text(
        "from tests.helpers.contract_miniatures import checks_the_assistant_name as app\n",
        encoding="utf-8",
    )
    tools = agent.parent / "tools.json"
    tools.write_text(json.dumps(c.WEATHER_TOOLS), encoding="utf-8")
    body = agent.parent / "assistant.json"
    body.write_text(json.dumps({"name": "Weather bot"}), encoding="utf-8")
    base = ["fuzz", f"{app}:app", "--contract", "app", "--scenario", ONE_ROUND]
    assert _main(base) == 1
    assert "not the Weather bot assistant" in capsys.readouterr().out
    assert _main([*base, "--assistant", str(body)]) == 1  # the right name, but no tools
    assert "KeyError: 'function'" in capsys.readouterr().out
    assert _main([*base, "--assistant", str(body), "--tools", str(tools)]) == 0


def test_fuzz_reproduces_drawn_calls_as_one_shell_word(agent: Path, capsys: Any) -> None:
    app = agent.parent / "weather.py"
    app.write_text(
        "from tests.helpers.contract_miniatures import celsius_only as app\n", encoding="utf-8"
    )
    tools = agent.parent / "tools.json"
    tools.write_text(json.dumps(c.WEATHER_TOOLS), encoding="utf-8")
    calls = '[["get_weather",{"city":"book","unit":"fahrenheit"}]]'
    scenario = f"start+1, require_action(1)+1, start+1, complete+1; calls={calls}"
    args = ["fuzz", f"{app}:app", "--contract", "app", "--tools", str(tools)]
    assert _main([*args, "--scenario", scenario]) == 1
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if "reproduce:" in x)
    again = shlex.split(line.split("reproduce: ", 1)[1])
    assert again[again.index("--scenario") + 1] == scenario
    assert _main(again[1:]) == 1
    assert "fahrenheit is not supported" in capsys.readouterr().out
