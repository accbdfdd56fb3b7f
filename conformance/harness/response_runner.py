"""Playing one background-responses lifecycle to a client: the emulator set up for the scenario
(each created response's script in order, the first stream's drop as a scheduled fault), the
client called under virtual time and the real-time watchdog with its contract's arguments, and
the played lifecycle judged by the contract registered for the response lifecycle."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any, cast

from runmodel import RESPONSE

from ..emulator import Emulator, Fault
from ..emulator.response_script import ResponseScript
from ..response_strategies import ResponseScenario
from . import response_contracts as _registered  # noqa: F401 - the contracts register on import
from .options import DEFAULT_ASSISTANT, TIME_BUDGET
from .response_results import ResponseContract, ResponseCounterexample, ResponseOptions
from .response_watch import ResponseJudging, ResponseWatch
from .runner import call_client
from .verdicts import Judging, PlayOutcome, contract_rules

__all__ = ["DEFAULT_TOOLS", "play_response_lifecycle", "response_tools"]


def response_tools(tools: Any) -> list[dict[str, Any]]:
    """Function tools in the Responses API's shape (``{"type": "function", "name", ...}``), from
    either API's shape."""
    out = []
    for tool in tools or ():
        fn = tool.get("function", tool) if isinstance(tool, Mapping) else None
        if isinstance(fn, Mapping) and tool.get("type", "function") == "function" and "name" in fn:
            out.append(
                {
                    "type": "function",
                    "name": str(fn["name"]),
                    "description": fn.get("description"),
                    "parameters": fn.get("parameters") or {"type": "object", "properties": {}},
                    "strict": fn.get("strict"),
                }
            )
    return out


DEFAULT_TOOLS: tuple[Mapping[str, Any], ...] = tuple(response_tools(DEFAULT_ASSISTANT["tools"]))
"""The tools a tool loop is given unless told otherwise (the order assistant's, in the
Responses API's shape)."""


def play_response_lifecycle(
    fn: Callable[..., Any], scenario: ResponseScenario, options: ResponseOptions
) -> tuple[list[tuple[str, ...]], list[ResponseCounterexample]]:
    """Play `scenario` to `fn`: the paths of the responses it covered, and a counterexample for
    every property that failed and is not ignored, in order of root cause."""
    emu = Emulator(strictness=options.strictness, seed=0)
    made = [0]

    def choose(_obj: Mapping[str, Any]) -> ResponseScript:
        made[0] += 1
        return scenario.script(made[0] - 1).script(options.strictness)

    emu.response_script_chooser = choose
    if scenario.drop_after is not None:
        drop = Fault("stream_drop", events=scenario.drop_after)
        emu.faults.schedule(drop, method="POST", path="/responses")
    emu.clock.budget = TIME_BUDGET
    watch = ResponseWatch(emu, options, scenario)
    emu.on_request = watch.on_request
    emu.before_request = watch.before_request
    args: tuple[Any, ...] = ()
    if options.contract is ResponseContract.POLLER:
        first = emu.start_response(scenario.script(0).script(options.strictness))
        made[0] = 1
        watch.track(first)
        args = (first,)
    elif options.contract is ResponseContract.TOOL_LOOP:
        args = ([dict(t) for t in options.tools or DEFAULT_TOOLS],)
    watch.start = emu.clock.now()
    out = _call(fn, emu, watch, args, options.hang_after)
    judging = ResponseJudging(out, emu, watch, options)
    paths = {rid: _path(emu, rid) for rid in watch.tracked}
    rules = contract_rules(RESPONSE.name, options.contract.value)
    actions = watch.actions()
    found = []
    for prop, message, rid in rules.judge(cast(Judging, judging)):
        if prop in options.ignore:
            continue
        path = paths.get(rid, ()) if rid is not None else ()
        found.append(
            ResponseCounterexample(prop, options.contract, scenario, path, message, actions)
        )
    return list(paths.values()), found


def _path(emu: Emulator, response_id: str) -> tuple[str, ...]:
    """The statuses the response went through, as the emulator moved it."""
    return tuple(change.status for change in emu.responses[response_id].history)


def _call(
    fn: Callable[..., Any],
    emu: Emulator,
    watch: ResponseWatch,
    args: tuple[Any, ...],
    hang_after: float,
) -> PlayOutcome:
    client = emu.async_client() if inspect.iscoroutinefunction(fn) else emu.client()
    return call_client(fn, emu, client, args, watch.on_sleep, hang_after)
