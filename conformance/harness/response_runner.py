"""Playing one background-responses lifecycle to a client: a stage set up for the scenario, the
client called under virtual time and the real-time watchdog with its contract's arguments, and
the played lifecycle judged by the contract registered for the response lifecycle."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Mapping
from typing import Any, cast

from runmodel import RESPONSE

from ..emulator.clock import ClientInterrupted
from ..response_strategies import ResponseScenario
from . import response_contracts as _registered  # noqa: F401 - the contracts register on import
from .options import DEFAULT_ASSISTANT, TIME_BUDGET
from .response_results import ResponseContract, ResponseCounterexample, ResponseOptions
from .response_stage import ResponseStage, response_tools
from .response_watch import ResponseJudging, ResponseWatch
from .results import ClientBlocked
from .verdicts import Judging, PlayOutcome, contract_rules
from .watchdog import AsyncBlocked, Watchdog

__all__ = ["DEFAULT_TOOLS", "play_response_lifecycle"]

DEFAULT_TOOLS: tuple[Mapping[str, Any], ...] = tuple(response_tools(DEFAULT_ASSISTANT["tools"]))
"""The tools a tool loop is given unless told otherwise (the order assistant's, in the
Responses API's shape)."""


def play_response_lifecycle(
    fn: Callable[..., Any], scenario: ResponseScenario, options: ResponseOptions
) -> tuple[list[tuple[str, ...]], list[ResponseCounterexample]]:
    """Play `scenario` to `fn`: the paths of the responses it covered, and a counterexample for
    every property that failed and is not ignored, in order of root cause."""
    stage = ResponseStage(strictness=options.strictness, chooser=scenario.script)
    stage.drop_after = scenario.drop_after
    stage.cancel_at = scenario.cancel_at
    stage.clock.budget = TIME_BUDGET
    watch = ResponseWatch(stage, options)
    stage.on_request = watch.on_request
    stage.before_request = watch.before_request
    args: tuple[Any, ...] = ()
    if options.contract is ResponseContract.POLLER:
        first = stage.start_response(scenario.script(0))
        watch.track(first)
        args = (first,)
    elif options.contract is ResponseContract.TOOL_LOOP:
        args = ([dict(t) for t in options.tools or DEFAULT_TOOLS],)
    watch.start = stage.clock.now()
    out = _call(fn, stage, watch, args, options.hang_after)
    judging = ResponseJudging(out, stage, watch, options)
    paths = {rid: _path(stage, rid) for rid in watch.tracked}
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


def _path(stage: ResponseStage, response_id: str) -> tuple[str, ...]:
    """The statuses the response went through, as the stage moved it."""
    return tuple(status for status, _, _ in stage.responses[response_id].history)


def _call(
    fn: Callable[..., Any],
    stage: ResponseStage,
    watch: ResponseWatch,
    args: tuple[Any, ...],
    hang_after: float,
) -> PlayOutcome:
    out = PlayOutcome()
    is_async = inspect.iscoroutinefunction(fn)
    client = stage.async_client() if is_async else stage.client()
    stage.clock.on_sleep = watch.on_sleep
    with stage.virtual_time():
        dog = Watchdog(hang_after, boundary=_call.__code__)
        try:
            with dog:
                try:
                    if is_async:
                        out.returned = asyncio.run(fn(client, *args))
                    else:
                        out.returned = fn(client, *args)
                except ClientInterrupted as exc:
                    out.hung = exc
                except (Exception, SystemExit) as exc:  # SystemExit: the client's own exit()
                    out.raised = exc
        except ClientBlocked as exc:  # the alarm rang as the client returned
            out.hung = exc
    stage.clock.on_sleep = None
    if isinstance(out.hung, AsyncBlocked) and dog.pending is not None:
        out.hung = dog.pending
    return out
