"""Playing one lifecycle to a client: an emulator set up for the plan, the client called under
virtual time and the real-time watchdog, and the played lifecycle judged by its contract."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any

import orjson
from hypothesis import strategies as st

from runmodel import RUN

from ..emulator import Emulator, Reply, Request
from ..emulator.clock import ClientInterrupted, Sleep
from ..sdk import quiet_assistants_deprecation
from ..strategies import AppScenario, Scenario
from ..tools import arguments, function_tools, plainest
from .options import FUTURE_STATUS, MESSAGE, TIME_BUDGET, Options
from .record import json_body
from .results import ClientBlocked, Contract, Counterexample
from .server import Server
from .verdicts import Judging, PlayOutcome, contract_rules
from .watch import Tracked, Watch
from .watchdog import AsyncBlocked, Watchdog

__all__ = ["ClientFn", "call_client", "play_lifecycle"]

ClientFn = Callable[..., Any]


def play_lifecycle(
    fn: ClientFn,
    plan: Scenario | AppScenario,
    options: Options,
    data: st.DataObject | None = None,
) -> tuple[list[tuple[str, ...]], list[Counterexample]]:
    """Play `plan` to `fn`: the paths of the runs it covered, and a counterexample for every
    property that failed and is not ignored, in order of root cause."""
    emu = Emulator(strictness=options.strictness, seed=0)
    watch = Watch(emu, options, plan)
    emu.on_request = watch.on_request
    emu.before_request = watch.before_request
    emu.script_chooser = watch.choose
    emu.tool_calls = _Caller(watch, data)
    emu.clock.budget = TIME_BUDGET
    if options.contract is Contract.APP:
        watch.thread_id, first = emu.start_thread(assistant=options.assistant, message=MESSAGE)
        watch.assistant_id = first
    else:
        script = watch.plan[0].script
        watch.thread_id, first = emu.start_run(script, assistant=options.assistant, message=MESSAGE)
        watch.track(first, watch.thread_id, emu.clock.now())
        watch.assistant_id = emu.run_object(first)["assistant_id"]
    watch.start = emu.clock.now()
    out = _call(fn, emu, watch, first, options.future_status, options.hang_after)
    played = tuple(
        replace(t.scenario, calls=tuple(t.calls)) if _drawn(emu, t) else t.scenario
        for t in watch.runs.values()
    )
    scenario: Scenario | AppScenario
    if options.contract is Contract.APP:
        scenario = AppScenario(played + watch.plan[len(played) :])
    else:
        scenario = played[0]
    paths = {run_id: _server_path(emu, run_id) for run_id in watch.runs}
    actions = watch.actions()
    rules = contract_rules(RUN.name, options.contract.value)
    found = []
    for prop, message, run_id in rules.judge(Judging(out, emu, watch, options)):
        if prop in options.ignore:
            continue
        path = paths.get(run_id, ()) if run_id is not None else ()
        found.append(Counterexample(prop, options.contract, scenario, path, message, actions))
    return list(paths.values()), found


def _future_status_once(runs: Callable[[], Iterable[str]]) -> Callable[[Request, Reply], Reply]:
    """A reply hook that answers one in-progress poll of a run in `runs()` with
    `FUTURE_STATUS`."""
    served = False

    def serve(rec: Request, reply: Reply) -> Reply:
        nonlocal served
        if served or rec.method != "GET" or reply.stream:
            return reply
        if not any(rec.path.endswith(f"/runs/{run_id}") for run_id in runs()):
            return reply
        obj = json_body(reply.body)
        if isinstance(obj, dict) and obj.get("status") == "in_progress":
            served = True
            reply.body = orjson.dumps({**obj, "status": FUTURE_STATUS})
        return reply

    return serve


class _Caller:
    """Names each tool call of a round from the run's function tools, with arguments drawn from
    their schemas (or played again from the scenario), and keeps what it drew per run."""

    def __init__(self, watch: Watch, data: st.DataObject | None) -> None:
        self.watch = watch
        self.data = data

    def __call__(self, run: Mapping[str, Any], n: int) -> list[tuple[str, str]]:
        tracked = self.watch.runs.get(str(run.get("id")))
        functions = function_tools(run.get("tools"))
        if tracked is None or not functions:
            return []
        by_name = {str(f["name"]): f for f in functions}
        out: list[tuple[str, str]] = []
        for _ in range(n):
            given = tracked.scenario.calls
            at = len(tracked.calls)
            if at < len(given) and given[at][0] in by_name:
                name, args = given[at]
            elif self.data is not None:
                chosen = self.data.draw(st.sampled_from(functions), label="tool")
                name = str(chosen["name"])
                args = self.data.draw(arguments(chosen.get("parameters")), label=name)
            else:
                name = str(functions[0]["name"])
                args = plainest(functions[0].get("parameters"))
            tracked.calls.append((name, args))
            out.append((name, orjson.dumps(args).decode()))
        return out


def _call(
    fn: ClientFn, emu: Server, watch: Watch, first: str, future: bool, hang_after: float
) -> PlayOutcome:
    if future:
        emu.on_reply = _future_status_once(lambda: watch.runs)
    strict = not future  # a future status fails strict validation; the SDK's default is loose
    is_async = inspect.iscoroutinefunction(fn)
    client = emu.async_client(strict=strict) if is_async else emu.client(strict=strict)
    with quiet_assistants_deprecation():
        return call_client(fn, emu, client, (watch.thread_id, first), watch.on_sleep, hang_after)


def call_client(
    fn: Callable[..., Any],
    emu: Server,
    client: Any,
    args: tuple[Any, ...],
    on_sleep: Callable[[Sleep], None],
    hang_after: float,
) -> PlayOutcome:
    """Call ``fn(client, *args)`` (awaited if it is async) on the emulator's virtual time, under
    the real-time watchdog: what it returned or raised, or where it hung. Every contract's
    runner calls its client through this."""
    out = PlayOutcome()
    emu.clock.on_sleep = on_sleep
    with emu.virtual_time():
        dog = Watchdog(hang_after, boundary=call_client.__code__)
        try:
            with dog:
                try:
                    if inspect.iscoroutinefunction(fn):
                        out.returned = asyncio.run(fn(client, *args))
                    else:
                        out.returned = fn(client, *args)
                except ClientInterrupted as exc:
                    out.hung = exc
                except (Exception, SystemExit) as exc:  # SystemExit: the client's own exit()
                    out.raised = exc
        except ClientBlocked as exc:  # the alarm rang as the client returned
            out.hung = exc
    emu.clock.on_sleep = None
    if isinstance(out.hung, AsyncBlocked) and dog.pending is not None:
        out.hung = dog.pending
    return out


def _drawn(emu: Server, tracked: Tracked) -> bool:
    """Whether a run's calls differ from what a replay without them would ask for."""
    if tracked.scenario.calls:
        return True
    run = emu.runs.get(tracked.run_id)
    functions = function_tools(run.obj["tools"]) if run is not None else []
    if not functions:
        return False
    plain = (str(functions[0]["name"]), plainest(functions[0].get("parameters")))
    return any(call != plain for call in tracked.calls)


def _server_path(emu: Server, run_id: str) -> tuple[str, ...]:
    """The statuses the server's run went through, from its own event log."""
    path = [RUN.initial]
    run = emu.runs.get(run_id)
    for name, _ in run.events if run is not None else ():
        status = name.removeprefix("thread.run.")
        if name.startswith("thread.run.") and status in RUN and status != path[-1]:
            path.append(status)
    return tuple(path)
